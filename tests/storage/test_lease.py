from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage.lease import publish, release, state, take

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_one_holder_at_a_time_until_the_lease_expires(engine: Engine) -> None:
    assert take(engine, "bridge", "a", NOW, 20)
    assert not take(engine, "bridge", "b", NOW + timedelta(seconds=19), 20)
    assert take(engine, "bridge", "a", NOW + timedelta(seconds=10), 20)  # renewed
    assert not take(engine, "bridge", "b", NOW + timedelta(seconds=29), 20)
    assert take(engine, "bridge", "b", NOW + timedelta(seconds=31), 20)
    held = state(engine, "bridge")
    assert held is not None
    assert (held.holder, held.acquired_at) == ("b", NOW + timedelta(seconds=31))


def test_a_released_lease_is_free_at_once(engine: Engine) -> None:
    assert take(engine, "bridge", "a", NOW, 20)
    release(engine, "bridge", "a")
    assert take(engine, "bridge", "b", NOW + timedelta(seconds=1), 20)


def test_only_the_holder_publishes_its_status_and_a_new_holder_starts_blank(
    engine: Engine,
) -> None:
    assert take(engine, "bridge", "a", NOW, 20)
    assert publish(engine, "bridge", "a", '{"channels": []}', NOW)
    assert not publish(engine, "bridge", "b", "{}", NOW)
    assert take(engine, "bridge", "b", NOW + timedelta(seconds=21), 20)
    held = state(engine, "bridge")
    assert held is not None
    assert held.status is None
