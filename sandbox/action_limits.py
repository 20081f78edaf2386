"""The org's data action limits (genesys-api.md §16.C.5): concurrency and executions per minute.

Defaults are the platform's, 50 executions in flight and 2,500 per minute, counted for
``execute`` and ``test`` alike; both are :class:`~sandbox.config.SandboxConfig` knobs so
a test can reach them with a handful of calls. A slow remote endpoint holds its slot for
as long as it takes, as on the platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.ratelimit import RateLimiter

CONCURRENCY_KEY = "actions.concurrent.executions.max"
VOLUME_KEY = "requests.volume.max"
_ORG = "org"


class LimitReached(Exception):
    """Why an execution may not start now: the limit's key and value, and when to retry."""

    def __init__(self, key: str, value: int, retry_after: int) -> None:
        super().__init__(f"{key} {value} reached")
        self.key = key
        self.value = value
        self.retry_after = retry_after


class ActionLimits:
    """Counts executions in flight and per one-minute window for the whole org."""

    def __init__(self, concurrent: int, per_minute: int, window_seconds: float = 60.0) -> None:
        self.concurrent = concurrent
        self.per_minute = per_minute
        self.in_flight = 0
        self._minute = RateLimiter(per_minute, window_seconds)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one execution slot for the block; :class:`LimitReached` when none is free."""
        if self.in_flight >= self.concurrent:
            raise LimitReached(CONCURRENCY_KEY, self.concurrent, 1)
        decision = self._minute.hit(_ORG)
        if decision.limited:
            raise LimitReached(VOLUME_KEY, self.per_minute, decision.reset_seconds)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def reset(self) -> None:
        self._minute.reset()
