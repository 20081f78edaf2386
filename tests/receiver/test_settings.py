import pytest

from receiver.settings import Settings, SettingsError
from tests.conftest import CALLBACK_TOKEN, WEBHOOK_SECRET

SECURE = {"FLOWTRACK_CALLBACK_TOKENS": CALLBACK_TOKEN, "FLOWTRACK_INSECURE_API": "1"}


def test_defaults_need_only_callback_and_api_credentials() -> None:
    settings = Settings.from_env(SECURE)
    assert settings.database_url.drivername == "sqlite+pysqlite"
    assert settings.database_url.database == "flowtrack.db"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.webhook_tolerance_seconds == 300
    assert settings.sqlite_synchronous == "full"
    assert settings.sqlite_checkpoints == "commit"


def test_refuses_to_start_without_callback_credentials() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FLOWTRACK_INSECURE_API": "1"})
    assert "FLOWTRACK_CALLBACK_TOKENS or FLOWTRACK_WEBHOOK_SECRETS" in str(caught.value)


def test_insecure_callbacks_must_be_asked_for_explicitly() -> None:
    settings = Settings.from_env(
        {"FLOWTRACK_INSECURE_CALLBACKS": "1", "FLOWTRACK_INSECURE_API": "1"}
    )
    assert settings.insecure_callbacks


def test_refuses_to_start_without_api_keys() -> None:
    with pytest.raises(SettingsError, match="FLOWTRACK_API_KEYS or FLOWTRACK_API_READ_KEYS"):
        Settings.from_env({"FLOWTRACK_CALLBACK_TOKENS": CALLBACK_TOKEN})


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                **SECURE,
                "FLOWTRACK_DATABASE_URL": "mysql://x/y",
                "FLOWTRACK_MAX_BODY_BYTES": "lots",
                "FLOWTRACK_LOG_FORMAT": "xml",
                "FLOWTRACK_WEBHOOK_SECRETS": "plain-secret",
                "FLOWTRACK_SQLITE_CHECKPOINTS": "sometimes",
            }
        )
    problems = "\n".join(caught.value.problems)
    names = (
        "DATABASE_URL",
        "MAX_BODY_BYTES",
        "LOG_FORMAT",
        "WEBHOOK_SECRETS",
        "SQLITE_CHECKPOINTS",
    )
    for name in names:
        assert f"FLOWTRACK_{name}:" in problems


def test_several_tokens_and_secrets_can_be_active_for_rotation() -> None:
    other_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    settings = Settings.from_env(
        {
            **SECURE,
            "FLOWTRACK_CALLBACK_TOKENS": f"{CALLBACK_TOKEN}, second-token-abcdefghijkl",
            "FLOWTRACK_WEBHOOK_SECRETS": f"{WEBHOOK_SECRET},{other_secret}",
        }
    )
    assert len(settings.callback_tokens) == 2
    assert len(settings.webhook_secrets) == 2


def test_short_tokens_are_refused_without_echoing_them() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**SECURE, "FLOWTRACK_CALLBACK_TOKENS": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_secrets_never_appear_in_the_settings_repr() -> None:
    settings = Settings.from_env(
        {**SECURE, "FLOWTRACK_WEBHOOK_SECRETS": WEBHOOK_SECRET, "FLOWTRACK_API_KEYS": "k" * 20}
    )
    shown = repr(settings)
    assert CALLBACK_TOKEN not in shown
    assert "k" * 20 not in shown
    assert "0123456789abcdef" not in shown


def test_migrating_needs_no_serving_credentials() -> None:
    settings = Settings.from_env({}, serving=False)
    assert settings.callback_tokens == ()


def test_background_checkpoints_are_asked_for_by_name() -> None:
    settings = Settings.from_env({**SECURE, "FLOWTRACK_SQLITE_CHECKPOINTS": " Background "})
    assert settings.sqlite_checkpoints == "background"
