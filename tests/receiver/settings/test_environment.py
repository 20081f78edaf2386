from pathlib import Path

import pytest

from receiver.settings import Settings, SettingsError
from receiver.settings.environment import unknown_variables


def test_a_misspelt_variable_is_named_with_the_closest_setting() -> None:
    warnings = unknown_variables({"FLOWTRACK_SWEEP_INTERVALL": "5", "PATH": "/bin"})
    assert warnings == [
        "FLOWTRACK_SWEEP_INTERVALL is not a flowtrack setting and is ignored; "
        "did you mean FLOWTRACK_SWEEP_INTERVAL?"
    ]


def test_a_variable_like_no_setting_gets_no_guess() -> None:
    assert unknown_variables({"FLOWTRACK_ZZZ": "1"}) == [
        "FLOWTRACK_ZZZ is not a flowtrack setting and is ignored"
    ]


def test_declared_settings_and_client_variables_are_not_reported() -> None:
    environ = {
        "FLOWTRACK_SWEEP_INTERVAL": "5",
        "FLOWTRACK_GENESYS_CLIENT_ID": "id",
        "FLOWTRACK_URL": "http://127.0.0.1:8000",
        "FLOWTRACK_API_KEY": "k",
    }
    assert unknown_variables(environ) == []


def test_a_warning_never_shows_the_value() -> None:
    (warning,) = unknown_variables({"FLOWTRACK_CALLBACK_TOKEN": "s3cret-value"})
    assert "s3cret-value" not in warning
    assert "did you mean FLOWTRACK_CALLBACK_TOKENS?" in warning


def test_a_sqlite_file_in_a_missing_folder_is_refused_naming_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FLOWTRACK_DATABASE_URL": f"sqlite:///{missing}/x.db"}, serving=False)
    assert caught.value.problems == [
        f"FLOWTRACK_DATABASE_URL: the folder of the SQLite file, {missing}, does not exist"
    ]


def test_a_sqlite_file_in_an_existing_folder_is_accepted(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"FLOWTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}, serving=False
    )
    assert settings.database_url.database == f"{tmp_path}/x.db"
