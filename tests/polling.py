"""Waiting in tests for what happens in the background: poll, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_for(predicate: Callable[[], Any], within: float = 5.0) -> Any:
    """Poll until ``predicate()`` is truthy; its value, or a failed assertion on timeout."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def poll_until(
    fetch: Callable[[], Awaitable[Any]],
    check: Callable[[Any], bool],
    within: float = 5.0,
    every: float = 0.02,
) -> Any:
    """Fetch every ``every`` s until ``check`` accepts the result; returns it (fails with
    the last one after ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        value = await fetch()
        if check(value):
            return value
        assert time.monotonic() < deadline, f"last value did not pass: {value!r}"
        await asyncio.sleep(every)
