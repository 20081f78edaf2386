from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from receiver.genesys.limiter import RateLimiter
from tests.receiver.genesys.conftest import FakeClock


def limiter(clock: FakeClock, limit: int = 300) -> RateLimiter:
    return RateLimiter(
        limit, clock=clock, sleep=clock.sleep, logger=logging.getLogger("receiver.genesys")
    )


def window(count: int, allowed: int, reset: int | str) -> httpx.Headers:
    return httpx.Headers(
        {
            "inin-ratelimit-count": str(count),
            "inin-ratelimit-allowed": str(allowed),
            "inin-ratelimit-reset": str(reset),
        }
    )


async def test_limiter_keeps_any_minute_under_the_limit(clock: FakeClock) -> None:
    pacer = limiter(clock, limit=3)
    started = clock.now
    granted = []

    for _ in range(7):
        await pacer.acquire()
        granted.append(clock.now - started)

    assert granted == [0, 0, 0, 60, 60, 60, 120]


async def test_limiter_frees_slots_as_the_window_slides(clock: FakeClock) -> None:
    pacer = limiter(clock, limit=2)
    await pacer.acquire()
    clock.now += 30
    await pacer.acquire()

    waited = await pacer.acquire()

    assert waited == pytest.approx(30)


async def test_limiter_serves_waiters_in_arrival_order(clock: FakeClock) -> None:
    pacer = limiter(clock, limit=1)
    order: list[int] = []

    async def take(index: int) -> None:
        await pacer.acquire()
        order.append(index)

    await asyncio.gather(*(take(index) for index in range(5)))

    assert order == [0, 1, 2, 3, 4]
    assert clock.sleeps == [60, 60, 60, 60]


async def test_limiter_waits_for_the_reset_when_the_server_window_is_spent(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="receiver.genesys")
    pacer = limiter(clock)
    pacer.observe(window(300, 300, 12))

    assert await pacer.acquire() == pytest.approx(12)
    assert any(getattr(r, "action", None) == "genesys.ratelimit" for r in caplog.records)


async def test_limiter_spreads_the_rest_of_a_nearly_spent_window(clock: FakeClock) -> None:
    pacer = limiter(clock)
    await pacer.acquire()
    pacer.observe(window(295, 300, 50))
    started = clock.now

    for _ in range(3):
        await pacer.acquire()

    assert clock.now - started == pytest.approx(30)  # one per 50 s / 5 left


async def test_limiter_does_not_slow_down_with_room_left(clock: FakeClock) -> None:
    pacer = limiter(clock)
    pacer.observe(window(100, 300, 50))

    for _ in range(10):
        assert await pacer.acquire() == 0


async def test_limiter_adopts_a_smaller_server_allowance(clock: FakeClock) -> None:
    pacer = limiter(clock, limit=300)
    pacer.observe(window(0, 2, 60))
    await pacer.acquire()
    await pacer.acquire()

    assert await pacer.acquire() == pytest.approx(60)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"inin-ratelimit-count": "300"},
        {"inin-ratelimit-count": "x", "inin-ratelimit-allowed": "300"},
        {"inin-ratelimit-count": "5", "inin-ratelimit-allowed": "0"},
        {"inin-ratelimit-count": "nan", "inin-ratelimit-allowed": "300"},
    ],
)
async def test_limiter_ignores_missing_or_garbage_headers(
    clock: FakeClock, headers: dict[str, str]
) -> None:
    pacer = limiter(clock, limit=300)
    pacer.observe(httpx.Headers(headers))

    assert await pacer.acquire() == 0


async def test_an_absurd_reset_is_capped_at_one_window(clock: FakeClock) -> None:
    pacer = limiter(clock)
    pacer.observe(window(300, 300, 1_800_000_000))

    assert await pacer.acquire() == pytest.approx(60)


async def test_pause_holds_back_the_next_grant(clock: FakeClock) -> None:
    pacer = limiter(clock)
    pacer.pause(7.5)

    assert await pacer.acquire() == pytest.approx(7.5)
