"""Connection and policy settings of the Genesys client.

The object is plain data: the application's settings module builds it from its
``FLOWTRACK_*`` variables, tests build it directly. Nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

#: Region names accepted by :meth:`GenesysConfig.for_region` besides a bare domain, from
#: the SDK's ``PureCloudRegionHosts`` enum (genesys-api.md §1.1).
REGION_DOMAINS: Final = {
    "us_east_1": "mypurecloud.com",
    "us_east_2": "use2.us-gov-pure.cloud",
    "us_west_2": "usw2.pure.cloud",
    "ca_central_1": "cac1.pure.cloud",
    "sa_east_1": "sae1.pure.cloud",
    "mx_central_1": "mxc1.pure.cloud",
    "eu_west_1": "mypurecloud.ie",
    "eu_west_2": "euw2.pure.cloud",
    "eu_central_1": "mypurecloud.de",
    "eu_central_2": "euc2.pure.cloud",
    "eusc_de_east_1": "edee1.eusc-pure.cloud",
    "me_central_1": "mec1.pure.cloud",
    "ap_south_1": "aps1.pure.cloud",
    "ap_southeast_1": "apse1.pure.cloud",
    "ap_southeast_2": "mypurecloud.com.au",
    "ap_northeast_1": "mypurecloud.jp",
    "ap_northeast_2": "apne2.pure.cloud",
    "ap_northeast_3": "apne3.pure.cloud",
}


@dataclass(frozen=True, slots=True)
class GenesysConfig:
    """Everything :class:`~receiver.genesys.client.GenesysClient` needs to talk to one org.

    ``api_url`` and ``login_url`` are independent so both can point at the sandbox.
    Retries stop at whichever comes first: ``max_attempts`` tries (the first one
    included) or ``max_retry_seconds`` since the first try. A ``Retry-After`` above
    ``retry_after_cap_seconds`` is not waited for at all (genesys-api.md §2.3: daily
    quotas answer 429 with waits of hours).
    """

    client_id: str
    client_secret: str = field(repr=False)
    api_url: str = "https://api.mypurecloud.com"
    login_url: str = "https://login.mypurecloud.com"
    rate_limit_per_minute: int = 300
    request_timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 5.0
    max_attempts: int = 5
    max_retry_seconds: float = 60.0
    retry_after_cap_seconds: float = 180.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 20.0
    token_renew_margin_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ValueError("GenesysConfig needs a client_id and a client_secret")
        for name in ("api_url", "login_url"):
            url = getattr(self, name).strip().rstrip("/")
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"GenesysConfig.{name} must be an http(s) URL, got {url!r}")
            # Frozen dataclass: normalising in place is the only way short of a factory.
            object.__setattr__(self, name, url)
        if self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for name in (
            "request_timeout_seconds",
            "connect_timeout_seconds",
            "backoff_base_seconds",
            "backoff_max_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("max_retry_seconds", "retry_after_cap_seconds", "token_renew_margin_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @classmethod
    def for_region(
        cls, region: str, *, client_id: str, client_secret: str, **options: Any
    ) -> GenesysConfig:
        """Build a config for a region domain such as ``mypurecloud.com`` or ``usw2.pure.cloud``.

        SDK region names (``us_west_2``) and AWS-style names (``us-west-2``) are accepted
        too. ``options`` are the remaining fields (limits, timeouts, retry policy).
        """
        domain = cls.region_domain(region)
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            api_url=f"https://api.{domain}",
            login_url=f"https://login.{domain}",
            **options,
        )

    @staticmethod
    def region_domain(region: str) -> str:
        """The ``{domain}`` of ``https://api.{domain}`` for a region name or domain."""
        name = region.strip().lower()
        known = REGION_DOMAINS.get(name.replace("-", "_"))
        if known is not None:
            return known
        if not name or "/" in name or ":" in name or "." not in name:
            raise ValueError(
                f"unknown Genesys region {region!r}: expected a domain such as "
                "'mypurecloud.com' or 'usw2.pure.cloud'"
            )
        return name.removeprefix("api.").removeprefix("login.")
