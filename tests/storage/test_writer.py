import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select, text

from storage.errors import StorageError, StorageUnavailable
from storage.records import DeadLetterRecord, EventRecord
from storage.tables import DeadLetter, Event
from storage.writer import Batch, EventWriter

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


def record(name: str, *, occurred_at: datetime = NOW, conversation: str = "c-1") -> EventRecord:
    return EventRecord(
        hashlib.blake2b(name.encode(), digest_size=16).digest(),
        "node_enter",
        "data_action",
        occurred_at,
        NOW,
        None,
        "x-1",
        conversation,
        "flow-1",
        "1.0",
        name,
        "Action",
        f"node {name}",
        None,
        None,
        None,
        None,
        f'{{"nodeId": "{name}"}}',
    )


@pytest.fixture
def writer(engine: Engine) -> Iterator[EventWriter]:
    writer = EventWriter(engine)
    writer.start()
    yield writer
    writer.close()


def stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(Event.node_id).order_by(Event.id)).scalars())


async def test_written_events_are_committed_before_the_write_returns(
    writer: EventWriter, engine: Engine
) -> None:
    result = await writer.write([record("a"), record("b")])
    assert (result.accepted, result.duplicates) == (2, 0)
    assert stored(engine) == ["a", "b"]


async def test_duplicate_event_is_stored_once(writer: EventWriter, engine: Engine) -> None:
    await writer.write([record("a")])
    result = await writer.write([record("a")])
    assert (result.accepted, result.duplicates) == (0, 1)
    assert stored(engine) == ["a"]


async def test_duplicates_inside_one_submission_are_stored_once(
    writer: EventWriter, engine: Engine
) -> None:
    result = await writer.write([record("a"), record("b"), record("a")])
    assert (result.accepted, result.duplicates) == (2, 1)
    assert stored(engine) == ["a", "b"]


async def test_concurrent_submissions_of_the_same_event_store_it_once(
    writer: EventWriter, engine: Engine
) -> None:
    results = await asyncio.gather(*(writer.write([record("same")]) for _ in range(50)))
    assert sum(result.accepted for result in results) == 1
    assert sum(result.duplicates for result in results) == 49
    assert stored(engine) == ["same"]


async def test_many_concurrent_writers_are_all_committed_exactly_once(
    writer: EventWriter, engine: Engine
) -> None:
    names = [f"n{i}" for i in range(500)]
    results = await asyncio.gather(*(writer.write([record(name)]) for name in names))
    assert all(result.accepted == 1 for result in results)
    assert sorted(stored(engine)) == sorted(names)
    # Group commit: far fewer transactions than requests.
    assert writer.batches < len(names)


async def test_timestamps_round_trip_as_utc(writer: EventWriter, engine: Engine) -> None:
    later = NOW + timedelta(milliseconds=120)
    await writer.write([record("a", occurred_at=later)])
    with engine.connect() as connection:
        occurred = connection.execute(select(Event.occurred_at)).scalar_one()
    assert occurred == later
    assert occurred.tzinfo is not None


async def test_every_column_round_trips_exactly(writer: EventWriter, engine: Engine) -> None:
    text_values = [
        'quote " backslash \\ slash / tab \t newline \n',
        "unicode é ✓ 𝄞 and an escaped NUL as text: \\u0000",
        "",
    ]
    occurred = datetime(2026, 3, 2, 11, 15, 0, 1, tzinfo=timezone(timedelta(hours=1)))
    row = EventRecord(
        bytes(range(16)),
        "error",
        "notification",
        occurred,
        NOW,
        None,
        text_values[0],
        text_values[1],
        text_values[2],
        None,
        "n" * 255,
        None,
        None,
        None,
        None,
        "E1",
        "x" * 100_000,
        '{"raw": "\\"quoted\\"", "n": null}',
    )
    assert (await writer.write([row])).accepted == 1
    with engine.connect() as connection:
        stored_row = connection.execute(select(Event.__table__)).one()
    assert bytes(stored_row.dedupe_key) == row.dedupe_key
    assert stored_row.occurred_at == occurred  # the same instant, returned in UTC
    assert stored_row.occurred_at.utcoffset() == timedelta(0)
    assert tuple(getattr(stored_row, name) for name in EventRecord._fields[5:]) == row[5:]


async def test_events_are_not_committed_when_their_dead_letters_fail(
    writer: EventWriter, engine: Engine
) -> None:
    # A dead letter without a reason breaks a NOT NULL constraint: the batch is one unit.
    broken = DeadLetterRecord(NOW, None, "[]", None, "{}")  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        await writer.write([record("a")], [broken])
    assert stored(engine) == []
    assert (await writer.write([record("a")])).accepted == 1


async def test_dead_letters_are_stored_with_the_events_batch(
    writer: EventWriter, engine: Engine
) -> None:
    letter = DeadLetterRecord(NOW, "unsupported topic", '[{"field": "topicName"}]', "wh-1", "{}")
    result = await writer.write([], [letter])
    assert (result.accepted, result.duplicates) == (0, 0)
    with engine.connect() as connection:
        row = connection.execute(select(DeadLetter)).one()
    assert (row.reason, row.webhook_id, row.body) == ("unsupported topic", "wh-1", "{}")


async def test_a_large_submission_is_split_into_statements_but_committed_whole(
    writer: EventWriter, engine: Engine
) -> None:
    result = await writer.write([record(f"n{i}") for i in range(4000)])
    assert result.accepted == 4000
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Event)).scalar() == 4000


async def test_a_broken_schema_fails_the_waiting_requests_and_stores_nothing(
    writer: EventWriter, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE events RENAME TO events_moved"))
    with pytest.raises(StorageError):
        await writer.write([record("a")])
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE events_moved RENAME TO events"))
    # The writer reconnects and carries on once the database is usable again.
    result = await writer.write([record("b")])
    assert result.accepted == 1
    assert stored(engine) == ["b"]


async def test_writing_after_close_is_refused(engine: Engine) -> None:
    writer = EventWriter(engine)
    writer.start()
    writer.close()
    with pytest.raises(StorageUnavailable):
        await writer.write([record("a")])


async def test_each_committed_batch_is_reported_once_with_its_new_rows(engine: Engine) -> None:
    batches: list[Batch] = []
    writer = EventWriter(engine, on_batch=batches.append)
    writer.start()
    try:
        await writer.write([record("a"), record("b"), record("a")])
        await writer.write([record("a")], [DeadLetterRecord(NOW, "why", "[]", None, "{}")])
    finally:
        writer.close()
    assert [(b.requests, b.events, b.dead_letters) for b in batches] == [(1, 3, 0), (1, 1, 1)]
    assert [[row.node_id for row in b.stored] for b in batches] == [["a", "b"], []]
    assert all(b.seconds > 0 for b in batches)
    assert writer.queue_depth == 0
    assert writer.failed_batches == 0
