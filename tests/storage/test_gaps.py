from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage.gaps import NO_PULL, close_gap, delete_old_gaps, open_gap, recent_gaps

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_gap_opens_closes_and_is_listed_newest_first(engine: Engine) -> None:
    first = open_gap(engine, T0, "socket_lost", "h-1")
    close_gap(engine, first, T0 + timedelta(seconds=3), NO_PULL)
    second = open_gap(engine, T0 + timedelta(minutes=1), "holder_changed", "h-2")
    listed = recent_gaps(engine, 10)
    assert [gap["id"] for gap in listed] == [second, first]
    assert (listed[1]["ended_at"], listed[1]["backfill"]) == (T0 + timedelta(seconds=3), NO_PULL)
    assert (listed[0]["ended_at"], listed[0]["backfill"]) == (None, "pending")


def test_retention_deletes_ended_gaps_only(engine: Engine) -> None:
    ended = open_gap(engine, T0, "socket_lost", "h-1")
    close_gap(engine, ended, T0 + timedelta(seconds=1), NO_PULL)
    still_open = open_gap(engine, T0, "socket_lost", "h-1")
    assert delete_old_gaps(engine, cutoff=T0 + timedelta(days=1), limit=10) == 1
    assert [gap["id"] for gap in recent_gaps(engine, 10)] == [still_open]
