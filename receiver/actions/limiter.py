"""The org's data action limits, kept on the client side (genesys-api.md §16.C.5).

Genesys allows an org 50 concurrent executions and 2,500 per minute by default and
answers 429 beyond them. Workers take a slot here before they claim a run, so this
process never has more in flight than its share, and starts at most ``per_minute`` in
any 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable


class OrgLimiter:
    """Concurrency slots plus a sliding one-minute window of starts."""

    def __init__(
        self,
        concurrency: int,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = 60.0,
    ) -> None:
        self.concurrency = concurrency
        self._per_minute = per_minute
        self._clock = clock
        self._window = window
        self._in_flight = 0
        self._starts: deque[float] = deque()
        self._freed = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def free(self) -> int:
        """How many executions may start right now."""
        self._forget_old()
        return max(
            0,
            min(self.concurrency - self._in_flight, self._per_minute - len(self._starts)),
        )

    def take(self, *, force: bool = False) -> bool:
        """Take one slot if one is free now (or anyway when ``force``: a run already
        claimed must run); the caller must :meth:`release` it."""
        if self.free() <= 0 and not force:
            return False
        self._in_flight += 1
        self._starts.append(self._clock())
        return True

    def release(self) -> None:
        self._in_flight -= 1
        self._freed.set()

    async def wait_for_room(self, at_most: float) -> None:
        """Return once a slot may be free, or after ``at_most`` seconds."""
        if self.free() > 0:
            return
        delay = at_most
        if self._in_flight < self.concurrency and self._starts:
            # Only the minute window is full: room comes when its oldest start leaves.
            delay = min(delay, self._starts[0] + self._window - self._clock())
        self._freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._freed.wait(), max(delay, 0.0))

    def _forget_old(self) -> None:
        horizon = self._clock() - self._window
        while self._starts and self._starts[0] <= horizon:
            self._starts.popleft()
