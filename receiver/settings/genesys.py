"""The ``FLOWTRACK_GENESYS_*`` variables' own rules: the region, and the client they build.

They are declared together in the one :class:`~receiver.settings.catalog.Settings` field
they build, ``genesys``; :func:`genesys_config` checks the ones that need each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any, Final

from receiver.genesys.config import GenesysConfig
from receiver.settings.declaration import PREFIX

DEFAULT_REGION: Final = "mypurecloud.com"


def region(raw: str) -> str:
    """A Genesys region name or domain, as its domain; blank is the default region."""
    return GenesysConfig.region_domain(raw.strip() or DEFAULT_REGION)


def genesys_config(
    values: Mapping[str, Any], given: Set[str], problems: list[str]
) -> GenesysConfig | None:
    """The Genesys client settings; None when no client id is set (receive-only mode)."""
    if "GENESYS_CLIENT_ID" not in given:
        others = {"GENESYS_CLIENT_SECRET", "GENESYS_REGION", "GENESYS_API_URL", "GENESYS_LOGIN_URL"}
        if given & others:
            problems.append(
                f"{PREFIX}GENESYS_CLIENT_ID: required when other {PREFIX}GENESYS_* are set"
            )
        return None
    if "GENESYS_CLIENT_SECRET" not in given:
        problems.append(f"{PREFIX}GENESYS_CLIENT_SECRET: required with a client id")
        return None
    api_url, login_url = values["GENESYS_API_URL"], values["GENESYS_LOGIN_URL"]
    if (api_url is None) != (login_url is None):
        problems.append(
            f"{PREFIX}GENESYS_API_URL and {PREFIX}GENESYS_LOGIN_URL: set both or neither"
        )
        return None
    credentials = {
        "client_id": values["GENESYS_CLIENT_ID"],
        "client_secret": values["GENESYS_CLIENT_SECRET"],
        "rate_limit_per_minute": values["GENESYS_RATE_LIMIT_PER_MINUTE"],
    }
    try:
        if api_url is not None:
            return GenesysConfig(api_url=api_url, login_url=login_url, **credentials)
        return GenesysConfig.for_region(values["GENESYS_REGION"], **credentials)
    except ValueError as exc:  # not expected: the variables' parsers check the same
        problems.append(f"{PREFIX}GENESYS_*: {exc}")
        return None
