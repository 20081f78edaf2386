from __future__ import annotations

import pytest

from receiver.genesys import GenesysConfig


@pytest.mark.parametrize(
    ("region", "domain"),
    [
        ("mypurecloud.com", "mypurecloud.com"),
        ("usw2.pure.cloud", "usw2.pure.cloud"),
        (" MyPureCloud.de ", "mypurecloud.de"),
        ("us-west-2", "usw2.pure.cloud"),
        ("eu_central_1", "mypurecloud.de"),
        ("api.mypurecloud.ie", "mypurecloud.ie"),
    ],
)
def test_region_builds_api_and_login_urls(region: str, domain: str) -> None:
    config = GenesysConfig.for_region(region, client_id="id", client_secret="secret")

    assert config.api_url == f"https://api.{domain}"
    assert config.login_url == f"https://login.{domain}"


@pytest.mark.parametrize("region", ["", "nowhere", "https://api.mypurecloud.com", "a/b.com"])
def test_unusable_region_is_rejected(region: str) -> None:
    with pytest.raises(ValueError, match="region"):
        GenesysConfig.for_region(region, client_id="id", client_secret="secret")


def test_client_secret_is_not_in_repr() -> None:
    config = GenesysConfig(client_id="id", client_secret="very-secret")

    assert "very-secret" not in repr(config)
    assert "id" in repr(config)


def test_urls_lose_trailing_slash_and_must_be_http() -> None:
    config = GenesysConfig(
        client_id="id", client_secret="s", api_url="http://sandbox:8080/", login_url="http://s/"
    )

    assert config.api_url == "http://sandbox:8080"
    assert config.login_url == "http://s"
    with pytest.raises(ValueError, match="api_url"):
        GenesysConfig(client_id="id", client_secret="s", api_url="sandbox:8080")


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"client_secret": ""}, "client_secret"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"request_timeout_seconds": 0}, "request_timeout_seconds"),
        ({"max_retry_seconds": -1}, "max_retry_seconds"),
    ],
)
def test_nonsense_settings_are_rejected(options: dict[str, object], complaint: str) -> None:
    arguments: dict[str, object] = {"client_id": "id", "client_secret": "s", **options}
    with pytest.raises(ValueError, match=complaint):
        GenesysConfig(**arguments)  # type: ignore[arg-type]
