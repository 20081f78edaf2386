"""Time formats of the real API: ISO-8601 UTC with milliseconds for REST, epoch ms for events."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-03-02T10:15:00.120Z`` (always milliseconds, always ``Z``)."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def iso_seconds(moment: datetime) -> str:
    """``2026-03-02T10:15:05Z``: EventBridge's second-precision ``time``."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
