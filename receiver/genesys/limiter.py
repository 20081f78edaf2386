"""Client-side pacing under the Platform API rate limit (genesys-api.md §2.3).

Client-credentials tokens get 300 requests per minute. The limiter grants at most that
many requests in any sliding 60-second window, in arrival order, and listens to what
the server says: ``inin-ratelimit-count`` / ``-allowed`` / ``-reset`` on every answer
and the ``Retry-After`` of a 429.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

import httpx

#: Once no more than this share of the server's window is left, spread the rest out.
SLOWDOWN_SHARE: Final = 0.1


class RateLimiter:
    """Async, FIFO-fair sliding-window limiter.

    Waiters queue on one ``asyncio.Lock`` (which wakes them in arrival order); the head
    of the queue sleeps until its slot opens, so nobody overtakes. Three things can
    hold a grant back:

    * ``limit`` grants already happened in the last ``window`` seconds (the server's
      ``inin-ratelimit-allowed`` lowers ``limit`` when it is smaller);
    * the server said the window is spent (``count >= allowed``), or a 429 asked to
      wait: no grant until the window resets;
    * the window is nearly spent: the remaining requests are spaced evenly until reset.
    """

    def __init__(
        self,
        limit: int,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        logger: logging.Logger,
        window: float = 60.0,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._log = logger
        self._lock = asyncio.Lock()
        self._grants: deque[float] = deque()
        self._server_allowed: int | None = None
        self._blocked_until = -math.inf
        self._pace_until = -math.inf
        self._pace_interval = 0.0

    async def acquire(self) -> float:
        """Wait for permission to send one request; returns the seconds waited."""
        async with self._lock:
            started = self._clock()
            while True:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    break
                await self._sleep(delay)
            self._grants.append(now)
            return now - started

    def pause(self, seconds: float) -> None:
        """Hold every grant back for ``seconds`` (a 429 told us to wait)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def observe(self, headers: httpx.Headers) -> None:
        """Read the ``inin-ratelimit-*`` headers of an answer and slow down if needed."""
        count = _number(headers.get("inin-ratelimit-count"))
        allowed = _number(headers.get("inin-ratelimit-allowed"))
        if count is None or allowed is None or allowed < 1:
            return
        reset = _number(headers.get("inin-ratelimit-reset"))
        # A reset beyond one window would be a different unit or a bogus value.
        reset = self._window if reset is None else min(max(reset, 0.0), self._window)
        self._server_allowed = int(allowed)
        now = self._clock()
        remaining = allowed - count
        if remaining <= 0:
            if self._blocked_until < now:
                self._report("window spent", count, allowed, reset)
            self._blocked_until = max(self._blocked_until, now + reset)
        elif remaining <= max(1.0, allowed * SLOWDOWN_SHARE):
            if self._pace_until < now:
                self._report("window nearly spent", count, allowed, reset)
            self._pace_interval = reset / remaining
            self._pace_until = now + reset

    def _delay(self, now: float) -> float:
        while self._grants and self._grants[0] <= now - self._window:
            self._grants.popleft()
        delay = self._blocked_until - now
        limit = min(self._limit, self._server_allowed or self._limit)
        if len(self._grants) >= limit:
            # The grant that must leave the window before one more fits.
            oldest = self._grants[len(self._grants) - limit]
            delay = max(delay, oldest + self._window - now)
        if now < self._pace_until and self._grants:
            delay = max(delay, self._grants[-1] + self._pace_interval - now)
        return delay

    def _report(self, reason: str, count: float, allowed: float, reset: float) -> None:
        self._log.info(
            "genesys rate limit %s (%d/%d, reset in %.0f s): slowing down",
            reason,
            count,
            allowed,
            reset,
            extra={
                "action": "genesys.ratelimit",
                "reason": reason,
                "count": count,
                "allowed": allowed,
                "reset_seconds": reset,
            },
        )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
