"""Log lines that a flood cannot multiply: a few per window, then one count of the rest.

A token rotation gone wrong refuses every callback; the log must say so, but once per
callback would bury everything else. :class:`ThrottledLog` writes the first ``lines``
of each key in a window, counts the others, and when the window ends writes one line
saying how many it suppressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class _Window:
    started: float
    written: int = 0
    suppressed: int = 0
    extra: dict[str, Any] | None = None


class ThrottledLog:
    """At most ``lines`` lines per key every ``window_seconds``, plus "N more suppressed".

    Called on the event loop; the summary of a window is written when it ends (a timer),
    or by :meth:`flush` at shutdown.
    """

    def __init__(
        self,
        logger: logging.Logger,
        action: str,
        *,
        lines: int = 10,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._action = action
        self._lines = lines
        self._window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def warning(self, key: str, message: str, **fields: Any) -> None:
        """Log ``message`` with ``fields`` under ``key``'s budget, or count it."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now - window.started >= self._window_seconds:
            if window is not None:
                self._summarize(key)
            window = self._windows[key] = _Window(now)
        if window.written < self._lines:
            window.written += 1
            self._log.warning(message, extra={"action": self._action, **fields})
            return
        if not window.suppressed:
            window.extra = fields
            self._summarize_later(key, window.started + self._window_seconds - now)
        window.suppressed += 1

    def flush(self) -> None:
        """Write every pending "N more suppressed" line now."""
        for key in list(self._windows):
            self._summarize(key)

    def _summarize_later(self, key: str, delay: float) -> None:
        # Without a running loop (a test calling directly) the summary waits for flush.
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_later(max(delay, 0.0), self._summarize, key)

    def _summarize(self, key: str) -> None:
        window = self._windows.get(key)
        if window is None or not window.suppressed:
            return
        fields = {k: v for k, v in (window.extra or {}).items() if k in ("reason", "status")}
        self._log.warning(
            "%d more suppressed (%s) in the last %.0f s",
            window.suppressed,
            key,
            self._window_seconds,
            extra={"action": self._action, "suppressed": window.suppressed, **fields},
        )
        window.suppressed = 0
