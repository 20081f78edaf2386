import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from storage import launches as store
from storage import retention
from storage.audit import AuditEntry, record
from storage.engine import read_connection, write_transaction
from storage.launches import NewLaunch
from storage.tables import AuditRecord, DeadLetter, Event, Launch

events = Event.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]
dead_letters = DeadLetter.__table__  # type: ignore[attr-defined]
audit = AuditRecord.__table__  # type: ignore[attr-defined]

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=1)


def add_events(engine: Engine, at: datetime, count: int = 1, **keys: str | None) -> None:
    rows = []
    for n in range(count):
        digest = hashlib.blake2b(f"{uuid.uuid4()}".encode(), digest_size=16).digest()
        rows.append(
            {
                "dedupe_key": digest,
                "kind": "node_enter",
                "source": "data_action",
                "occurred_at": at + timedelta(milliseconds=n),
                "received_at": at + timedelta(milliseconds=n),
                "launch_id": keys.get("launch_id"),
                "flow_execution_id": keys.get("execution_id"),
                "conversation_id": keys.get("conversation_id"),
                "flow_id": "flow-1",
                "node_id": keys.get("node_id", "n"),
                "raw": "{}",
            }
        )
    with write_transaction(engine) as connection:
        connection.execute(insert(events), rows)


def add_launch(engine: Engine, state: str, at: datetime, **values: Any) -> str:
    launch_id = str(uuid.uuid4())
    store.insert_launch(
        engine,
        NewLaunch(launch_id, "flow-1", None, None, None, None, None, None, at, None),
    )
    with write_transaction(engine) as connection:
        connection.execute(
            update(launches)
            .where(launches.c.id == launch_id)
            .values({"state": state, "updated_at": at, **values})
        )
    return launch_id


def add_dead_letter(engine: Engine, at: datetime) -> None:
    with write_transaction(engine) as connection:
        connection.execute(
            insert(dead_letters).values(received_at=at, reason="r", errors="[]", body="{}")
        )


def add_audit(engine: Engine, at: datetime) -> None:
    record(engine, AuditEntry(at, "ops", "launch", "l-1", "created"))


def count(engine: Engine, table: Any, *where: Any) -> int:
    with read_connection(engine) as connection:
        return int(
            connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        )


def drain_events(engine: Engine, limit: int) -> list[int]:
    """Run event batches until done; what each one deleted."""
    deleted = []
    after = None
    while True:
        batch = retention.delete_old_events(engine, cutoff=CUTOFF, after=after, limit=limit)
        deleted.append(batch.deleted)
        after = batch.after
        if after is None:
            return deleted


def test_old_events_go_in_batches_and_recent_ones_stay(engine: Engine) -> None:
    add_events(engine, OLD, 25)
    add_events(engine, RECENT, 5)
    assert drain_events(engine, 10) == [10, 10, 5]
    assert count(engine, events) == 5
    assert count(engine, events, events.c.occurred_at < CUTOFF) == 0


def test_events_of_unfinished_launches_stay_however_old(engine: Engine) -> None:
    running = add_launch(engine, "running", OLD, flow_execution_id="x-run", conversation_id="c-run")
    stuck = add_launch(engine, "termination_failed", OLD)
    finished = add_launch(engine, "completed", OLD, flow_execution_id="x-done")
    add_events(engine, OLD, 3, launch_id=running)
    add_events(engine, OLD, 2, launch_id=stuck)
    # Not attributed yet, but they will be: by execution, or by conversation.
    add_events(engine, OLD, 2, execution_id="x-run")
    add_events(engine, OLD, 2, conversation_id="c-run")
    add_events(engine, OLD, 4, launch_id=finished)
    add_events(engine, OLD, 3, execution_id="x-done")
    add_events(engine, OLD, 1, conversation_id="c-nobody")
    # Batches of 2 step over the kept events without stopping at them.
    drain_events(engine, 2)
    assert count(engine, events, events.c.launch_id == running) == 3
    assert count(engine, events, events.c.launch_id == stuck) == 2
    assert count(engine, events, events.c.flow_execution_id == "x-run") == 2
    assert count(engine, events, events.c.conversation_id == "c-run") == 2
    assert count(engine, events) == 9


def test_finished_launches_go_once_untouched_for_the_period(engine: Engine) -> None:
    old = {
        state: add_launch(engine, state, OLD, ended_at=OLD)
        for state in ("completed", "failed", "terminated", "timed_out", "launch_failed")
    }
    kept = {
        "running": add_launch(engine, "running", OLD),
        "pending": add_launch(engine, "pending", OLD),
        "termination_failed": add_launch(engine, "termination_failed", OLD),
        "touched lately": add_launch(engine, "completed", OLD, updated_at=RECENT),
        "ended lately": add_launch(engine, "failed", OLD, ended_at=RECENT),
        "still told to stop": add_launch(
            engine, "timed_out", OLD, stop_requested_at=NOW - timedelta(days=2)
        ),
        "claimed by a sweep": add_launch(
            engine, "timed_out", OLD, claimed_until=NOW + timedelta(minutes=1)
        ),
    }
    batches = []
    while True:
        deleted = retention.delete_finished_launches(
            engine, cutoff=CUTOFF, now=NOW, keep_stopped_since=NOW - timedelta(days=7), limit=2
        )
        batches.append(deleted)
        if deleted < 2:
            break
    assert batches == [2, 2, 1]
    remaining = {row for (row,) in _ids(engine)}
    assert remaining == set(kept.values())
    assert not remaining & set(old.values())


def test_old_dead_letters_go_in_batches(engine: Engine) -> None:
    for _ in range(5):
        add_dead_letter(engine, OLD)
    add_dead_letter(engine, RECENT)
    deleted = [retention.delete_old_dead_letters(engine, cutoff=CUTOFF, limit=3) for _ in range(3)]
    assert deleted == [3, 2, 0]
    assert count(engine, dead_letters) == 1


def test_old_audit_records_go_in_batches(engine: Engine) -> None:
    for _ in range(4):
        add_audit(engine, OLD)
    add_audit(engine, RECENT)
    deleted = [retention.delete_old_audit(engine, cutoff=CUTOFF, limit=3) for _ in range(3)]
    assert deleted == [3, 1, 0]
    assert count(engine, audit) == 1


def _ids(engine: Engine) -> list[Any]:
    with read_connection(engine) as connection:
        return list(connection.execute(select(launches.c.id)).all())
