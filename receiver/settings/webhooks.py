"""The ``FLOWTRACK_WEBHOOKS_*`` variables: outbound webhooks (#17), how and where they go.

They are declared together in the one :class:`~receiver.settings.catalog.Settings`
field they build, ``webhooks``.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any, Final

from receiver.settings.declaration import Setting
from receiver.settings.values import flag, positive_float, positive_int

#: Svix's schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each failure.
DEFAULT_SCHEDULE: Final = "0,5,300,1800,7200,18000,36000,36000"


@dataclass(frozen=True)
class WebhooksConfig:
    """How webhook messages are delivered (``delivery`` False: not by this process)."""

    delivery: bool
    allow_http: bool
    allow_private: bool
    #: Seconds before each attempt: the first after the message is written, each next
    #: one after the previous attempt failed. Its length is the number of attempts.
    schedule: tuple[float, ...]
    timeout_seconds: float
    disable_after_seconds: float
    concurrency: int
    endpoint_concurrency: int
    poll_seconds: float
    secret_grace_seconds: float


def schedule(raw: str) -> tuple[float, ...]:
    """Comma-separated seconds, one per attempt."""
    try:
        steps = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated seconds such as 0,5,300, got {raw!r}") from None
    if not steps or any(step < 0 for step in steps):
        raise ValueError(f"expected one or more seconds, none negative, got {raw!r}")
    return steps


def webhooks_config(
    values: Mapping[str, Any], given: Set[str], problems: list[str]
) -> WebhooksConfig:
    """The webhook settings, each checked by its own parser."""
    return WebhooksConfig(
        delivery=values["WEBHOOKS_DELIVERY"],
        allow_http=values["WEBHOOKS_ALLOW_HTTP"],
        allow_private=values["WEBHOOKS_ALLOW_PRIVATE"],
        schedule=values["WEBHOOKS_RETRY_SCHEDULE"],
        timeout_seconds=values["WEBHOOKS_TIMEOUT_SECONDS"],
        disable_after_seconds=values["WEBHOOKS_DISABLE_AFTER_SECONDS"],
        concurrency=values["WEBHOOKS_CONCURRENCY"],
        endpoint_concurrency=values["WEBHOOKS_ENDPOINT_CONCURRENCY"],
        poll_seconds=values["WEBHOOKS_POLL_SECONDS"],
        secret_grace_seconds=values["WEBHOOKS_SECRET_GRACE_SECONDS"],
    )


SETTINGS: Final = (
    Setting(
        "WEBHOOKS_DELIVERY",
        flag,
        "1",
        "`0` switches this process's webhook delivery off (messages are still written; "
        "another replica sends them). See [docs/webhooks.md](docs/webhooks.md).",
    ),
    Setting(
        "WEBHOOKS_ALLOW_HTTP",
        flag,
        "0",
        "`1` accepts `http://` webhook endpoints (development only); otherwise `https://` "
        "is required.",
    ),
    Setting(
        "WEBHOOKS_ALLOW_PRIVATE",
        flag,
        "0",
        "`1` lets webhook endpoints resolve to loopback, private, link-local or other "
        "internal addresses (development, tests); otherwise they are refused, at creation "
        "and at each delivery.",
    ),
    Setting(
        "WEBHOOKS_RETRY_SCHEDULE",
        schedule,
        DEFAULT_SCHEDULE,
        "Seconds before each delivery attempt (the first after the change, each next one "
        "after a failure); the number of values is the number of attempts.",
    ),
    Setting(
        "WEBHOOKS_TIMEOUT_SECONDS",
        positive_float,
        "10",
        "How long one delivery attempt may take, from resolving the host to reading the answer.",
    ),
    Setting(
        "WEBHOOKS_DISABLE_AFTER_SECONDS",
        positive_float,
        str(5 * 24 * 3600),
        "An endpoint whose every attempt has failed for this long is disabled, with why.",
    ),
    Setting(
        "WEBHOOKS_CONCURRENCY",
        positive_int,
        "50",
        "Most webhook deliveries one process has in flight.",
    ),
    Setting(
        "WEBHOOKS_ENDPOINT_CONCURRENCY",
        positive_int,
        "10",
        "Most deliveries in flight to one endpoint: a slow receiver cannot hold them all.",
    ),
    Setting(
        "WEBHOOKS_POLL_SECONDS",
        positive_float,
        "1",
        "How often the delivery worker looks for due messages when it has nothing to do.",
    ),
    Setting(
        "WEBHOOKS_SECRET_GRACE_SECONDS",
        positive_float,
        "86400",
        "After a secret rotation, how long the old secret keeps signing next to the new one.",
    ),
)
