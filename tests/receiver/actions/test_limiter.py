"""The org limiter: concurrent slots and a sliding minute of starts."""

from receiver.actions.limiter import OrgLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_slots_are_taken_up_to_the_concurrency_and_come_back_on_release() -> None:
    limiter = OrgLimiter(2, 100, clock=Clock())
    assert limiter.take() and limiter.take()
    assert not limiter.take()
    assert limiter.free() == 0
    limiter.release()
    assert limiter.free() == 1


def test_starts_per_minute_are_counted_in_a_sliding_window() -> None:
    clock = Clock()
    limiter = OrgLimiter(10, 3, clock=clock)
    for _ in range(3):
        assert limiter.take()
        limiter.release()
    assert not limiter.take()
    clock.now = 60.5
    assert limiter.free() == 3


def test_a_claimed_run_takes_a_slot_even_when_none_is_free_and_gives_it_back() -> None:
    limiter = OrgLimiter(1, 100, clock=Clock())
    assert limiter.take()
    assert limiter.take(force=True)
    assert limiter.in_flight == 2
    limiter.release()
    limiter.release()
    assert limiter.free() == 1
