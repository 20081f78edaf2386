import logging

import pytest

from receiver.telemetry.throttle import ThrottledLog

log = logging.getLogger("tests.throttle")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tests.throttle"]


def test_each_key_has_its_own_budget_per_window(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    throttled = ThrottledLog(log, "test.line", lines=2, window_seconds=60, clock=clock)
    for _ in range(5):
        throttled.warning("a", "a happened", reason="a")
    throttled.warning("b", "b happened", reason="b")
    assert lines(caplog) == ["a happened", "a happened", "b happened"]


def test_the_next_window_starts_with_the_count_of_the_last(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    throttled = ThrottledLog(log, "test.line", lines=1, window_seconds=60, clock=clock)
    for _ in range(4):
        throttled.warning("a", "a happened", reason="a", secret_free="x")
    clock.now = 61
    throttled.warning("a", "a happened again", reason="a")
    assert lines(caplog) == [
        "a happened",
        "3 more suppressed (a) in the last 60 s",
        "a happened again",
    ]
    summary = caplog.records[1]
    assert (summary.action, summary.suppressed, summary.reason) == ("test.line", 3, "a")  # type: ignore[attr-defined]


def test_flush_writes_what_is_pending_once(caplog: pytest.LogCaptureFixture) -> None:
    throttled = ThrottledLog(log, "test.line", lines=1, window_seconds=60, clock=Clock())
    throttled.warning("a", "a happened")
    throttled.warning("a", "a happened")
    throttled.flush()
    throttled.flush()
    assert lines(caplog) == ["a happened", "1 more suppressed (a) in the last 60 s"]


async def test_the_summary_is_written_when_the_window_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    throttled = ThrottledLog(log, "test.line", lines=1, window_seconds=0.05)
    throttled.warning("a", "a happened")
    throttled.warning("a", "a happened")
    await asyncio.sleep(0.15)
    assert lines(caplog) == ["a happened", "1 more suppressed (a) in the last 0 s"]
