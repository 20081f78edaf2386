"""Per-client request limit with the ``inin-ratelimit-*`` headers (genesys-api.md §2.3)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass(frozen=True)
class RateDecision:
    """Where a client stands in its current one-minute window."""

    count: int
    allowed: int
    reset_seconds: int
    limited: bool

    def headers(self) -> dict[str, str]:
        return {
            "inin-ratelimit-count": str(self.count),
            "inin-ratelimit-allowed": str(self.allowed),
            "inin-ratelimit-reset": str(self.reset_seconds),
        }


class RateLimiter:
    """Fixed one-minute windows per client id, like the platform's per-token limit."""

    def __init__(self, per_minute: int, window_seconds: float = 60.0) -> None:
        self.per_minute = per_minute
        self._window_seconds = window_seconds
        self._windows: dict[str, _Window] = {}

    def _window(self, key: str) -> _Window:
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None or now - window.started >= self._window_seconds:
            window = self._windows[key] = _Window(started=now)
        return window

    def _decision(self, window: _Window, limited: bool) -> RateDecision:
        remaining = self._window_seconds - (time.monotonic() - window.started)
        return RateDecision(window.count, self.per_minute, max(1, math.ceil(remaining)), limited)

    def hit(self, key: str) -> RateDecision:
        """Count one request; ``limited`` when it goes past the allowance."""
        window = self._window(key)
        if window.count >= self.per_minute:
            return self._decision(window, limited=True)
        window.count += 1
        return self._decision(window, limited=False)

    def peek(self, key: str) -> RateDecision:
        """The current standing without counting a request."""
        return self._decision(self._window(key), limited=False)

    def reset(self) -> None:
        self._windows.clear()
