import hashlib
from dataclasses import fields
from pathlib import Path

import pytest

from receiver.settings import (
    Setting,
    Settings,
    SettingsError,
    configuration_table,
    declarations,
    main,
)
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


def test_every_settings_field_is_declared_by_its_own_variables() -> None:
    declared = [field.metadata.get("flowtrack.setting") for field in fields(Settings)]
    assert None not in declared
    variables = [setting.variable for setting in declarations()]
    assert len(variables) == len(set(variables))
    assert all(variable.startswith("FLOWTRACK_") for variable in variables)


def test_the_field_defaults_are_the_declared_defaults_read_from_an_empty_environment() -> None:
    assert Settings.from_env({}, serving=False) == Settings()
    assert Settings().flow_timeouts is not Settings().flow_timeouts


def test_a_bad_value_is_reported_with_its_variable_and_the_default_kept() -> None:
    problems: list[str] = []
    setting = Setting("SWEEP_INTERVAL", float, "10", "Seconds between sweeps.")
    assert setting.read({"FLOWTRACK_SWEEP_INTERVAL": "x"}, problems) == 10.0
    assert problems == ["FLOWTRACK_SWEEP_INTERVAL: could not convert string to float: 'x'"]


def test_a_bad_secret_value_is_never_in_its_error_even_when_the_parser_quotes_it() -> None:
    def quoting(raw: str) -> str:
        if raw:
            raise ValueError(f"expected something else, got {raw!r}")
        return raw

    problems: list[str] = []
    secret = Setting("SOME_SECRET", quoting, "", "A secret.", secret=True)
    secret.read({"FLOWTRACK_SOME_SECRET": "ok-then, hunter2-hunter2"}, problems)
    assert problems == ["FLOWTRACK_SOME_SECRET: invalid value (not shown: it is a secret)"]


def test_bad_secret_values_are_named_but_never_shown() -> None:
    bad = {
        "FLOWTRACK_API_KEYS": "key-short",
        "FLOWTRACK_API_READ_KEYS": "k" * 20 + ",read-short",
        "FLOWTRACK_WEBHOOK_SECRETS": "whsec_not!base64",
    }
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**SECURE, **bad})
    shown = str(caught.value)
    for variable, value in bad.items():
        assert f"{variable}:" in shown
        for part in value.split(","):
            assert part not in shown


def test_several_bad_variables_are_all_reported_at_once_genesys_included() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                **SECURE,
                "FLOWTRACK_SWEEP_INTERVAL": "soon",
                "FLOWTRACK_FLOW_TIMEOUTS": "flow-a",
                "FLOWTRACK_LOG_LEVEL": "loud",
                "FLOWTRACK_GENESYS_CLIENT_ID": "client",
                "FLOWTRACK_GENESYS_CLIENT_SECRET": "client-secret",
                "FLOWTRACK_GENESYS_REGION": "nowhere",
                "FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE": "0",
            }
        )
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "FLOWTRACK_GENESYS_REGION",
        "FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE",
        "FLOWTRACK_FLOW_TIMEOUTS",
        "FLOWTRACK_SWEEP_INTERVAL",
        "FLOWTRACK_LOG_LEVEL",
    ]
    assert "client-secret" not in str(caught.value)


def test_genesys_is_off_without_a_client_id_and_built_from_a_region_with_one() -> None:
    assert Settings.from_env(SECURE).genesys is None
    genesys = Settings.from_env(
        {
            **SECURE,
            "FLOWTRACK_GENESYS_CLIENT_ID": " client ",
            "FLOWTRACK_GENESYS_CLIENT_SECRET": "client-secret",
            "FLOWTRACK_GENESYS_REGION": "us-west-2",
            "FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE": "60",
        }
    ).genesys
    assert genesys is not None
    assert (genesys.client_id, genesys.api_url, genesys.rate_limit_per_minute) == (
        "client",
        "https://api.usw2.pure.cloud",
        60,
    )


def test_genesys_urls_replace_the_region_and_the_blank_region_is_the_default_one() -> None:
    credentials = {
        **SECURE,
        "FLOWTRACK_GENESYS_CLIENT_ID": "client",
        "FLOWTRACK_GENESYS_CLIENT_SECRET": "client-secret",
    }
    by_region = Settings.from_env({**credentials, "FLOWTRACK_GENESYS_REGION": " "}).genesys
    assert by_region is not None
    assert by_region.login_url == "https://login.mypurecloud.com"
    by_urls = Settings.from_env(
        {
            **credentials,
            "FLOWTRACK_GENESYS_API_URL": "http://127.0.0.1:8010/",
            "FLOWTRACK_GENESYS_LOGIN_URL": "http://127.0.0.1:8011",
        }
    ).genesys
    assert by_urls is not None
    assert (by_urls.api_url, by_urls.login_url) == (
        "http://127.0.0.1:8010",
        "http://127.0.0.1:8011",
    )


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        (
            {"FLOWTRACK_GENESYS_REGION": "usw2.pure.cloud"},
            "FLOWTRACK_GENESYS_CLIENT_ID: required when other FLOWTRACK_GENESYS_* are set",
        ),
        (
            {"FLOWTRACK_GENESYS_CLIENT_ID": "client"},
            "FLOWTRACK_GENESYS_CLIENT_SECRET: required with a client id",
        ),
        (
            {
                "FLOWTRACK_GENESYS_CLIENT_ID": "client",
                "FLOWTRACK_GENESYS_CLIENT_SECRET": "client-secret",
                "FLOWTRACK_GENESYS_API_URL": "http://sandbox",
            },
            "FLOWTRACK_GENESYS_API_URL and FLOWTRACK_GENESYS_LOGIN_URL: set both or neither",
        ),
    ],
)
def test_genesys_variables_that_need_each_other_are_checked_together(
    environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**SECURE, **environ})
    assert caught.value.problems == [complaint]


@pytest.mark.parametrize(
    "url", ["postgresql//flowtrack:hunter22@db/flowtrack", "flowtrack:hunter22@db:5432/flowtrack"]
)
def test_an_unreadable_database_url_is_quoted_without_its_password(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**SECURE, "FLOWTRACK_DATABASE_URL": url})
    [problem] = caught.value.problems
    assert problem.startswith("FLOWTRACK_DATABASE_URL: not a database URL:")
    assert "flowtrack:***@db" in problem
    assert "hunter22" not in problem


def test_every_declared_setting_is_a_row_of_the_configuration_table() -> None:
    rows = configuration_table().splitlines()
    assert rows[:2] == ["| Variable | Default | Description |", "|---|---|---|"]
    assert len(rows) == 2 + len(declarations())
    for row, setting in zip(rows[2:], declarations(), strict=True):
        assert row.startswith(f"| `{setting.variable}` | ")
        assert setting.help in row
        assert ("**Secret**" in row) == setting.secret


def test_the_table_shows_defaults_as_written_and_a_dash_when_unset() -> None:
    rows = {row.split(" | ")[0]: row for row in configuration_table().splitlines()}
    assert "| `1048576` |" in rows["| `FLOWTRACK_MAX_BODY_BYTES`"]
    assert "| \N{EN DASH} |" in rows["| `FLOWTRACK_RETENTION_DAYS`"]


def test_python_m_receiver_settings_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    main()
    assert capsys.readouterr().out == configuration_table() + "\n"


def test_readme_configuration_table_is_generated_from_the_declarations() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- settings:start -->", "<!-- settings:end -->"
    assert start in readme and end in readme, f"README.md needs {start} and {end} lines"
    block = readme.split(start, 1)[1].split(end, 1)[0]
    assert block.strip() == configuration_table().strip(), (
        "README.md's configuration table is out of date: run `python -m receiver.settings` "
        f"and paste its output between {start} and {end}"
    )


def test_api_keys_can_be_named_and_bare_keys_are_named_by_their_fingerprint() -> None:
    ops, bare, reader = "o" * 20, "b" * 20, "r" * 20
    settings = Settings.from_env(
        {
            **SECURE,
            "FLOWTRACK_API_KEYS": f"ops:{ops}, {bare}",
            "FLOWTRACK_API_READ_KEYS": f"deploy-bot:{reader}",
        }
    )
    assert [(key.name, key.key) for key in settings.api_keys] == [
        ("ops", ops),
        (f"key-{hashlib.sha256(bare.encode()).hexdigest()[:8]}", bare),
    ]
    assert [key.name for key in settings.api_read_keys] == ["deploy-bot"]
    assert ops not in repr(settings) and bare not in repr(settings.api_keys)


def test_a_short_named_key_or_a_name_given_twice_is_refused_without_showing_keys() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                **SECURE,
                "FLOWTRACK_API_KEYS": "ops:short-key," + "ops:" + "x" * 20,
                "FLOWTRACK_API_READ_KEYS": "ops:" + "y" * 20,
            }
        )
    shown = str(caught.value)
    assert "FLOWTRACK_API_KEYS: key #1 must be at least 16 characters long" in shown
    assert "short-key" not in shown and "y" * 20 not in shown
    with pytest.raises(SettingsError, match="both name a key ops"):
        Settings.from_env(
            {
                **SECURE,
                "FLOWTRACK_API_KEYS": "ops:" + "x" * 20,
                "FLOWTRACK_API_READ_KEYS": "ops:" + "y" * 20,
            }
        )
