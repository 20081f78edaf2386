from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from storage.gaps import close_gap, open_gap, recent_gaps
from storage.history_pulls import (
    PULLED,
    candidates,
    counts,
    delete_old_pulls,
    expire,
    mark,
    settle_gaps,
)
from storage.tables import Event, Launch

NOW = datetime.now(UTC)
RETENTION = timedelta(days=10)


def add_launch(
    engine: Engine, launch_id: str, state: str, created: datetime, **more: object
) -> None:
    row = {
        "id": launch_id,
        "flow_id": "f-1",
        "state": state,
        "created_at": created,
        "updated_at": created,
    }
    with engine.begin() as connection:
        connection.execute(insert(Launch.__table__), [{**row, **more}])  # type: ignore[attr-defined]


def add_node_event(engine: Engine, launch_id: str) -> None:
    row = {
        "dedupe_key": launch_id.encode().ljust(16, b"-")[:16],
        "kind": "node_enter",
        "source": "data_action",
        "occurred_at": NOW,
        "received_at": NOW,
        "launch_id": launch_id,
        "node_id": "n",
        "raw": "{}",
    }
    with engine.begin() as connection:
        connection.execute(insert(Event.__table__), [row])  # type: ignore[attr-defined]


def test_launches_without_node_events_are_candidates_ended_or_running(engine: Engine) -> None:
    ago = NOW - timedelta(minutes=5)
    add_launch(engine, "ended", "completed", ago, ended_at=ago, flow_execution_id="x-1")
    add_launch(engine, "running", "running", ago, flow_execution_id="x-2")
    add_launch(engine, "no-execution", "pending", ago)
    add_launch(engine, "never-ran", "launch_failed", ago, ended_at=ago)
    add_launch(engine, "reported", "completed", ago, ended_at=ago, flow_execution_id="x-3")
    add_node_event(engine, "reported")
    found = candidates(engine, NOW, RETENTION, 10)
    assert {c.launch_id for c in found} == {"ended", "running"}
    assert next(c for c in found if c.launch_id == "running").ended_at == NOW


def test_a_launch_that_ran_in_a_pending_gap_is_a_candidate_until_pulled(engine: Engine) -> None:
    ago = NOW - timedelta(minutes=5)
    add_launch(engine, "reported", "completed", ago, ended_at=ago + timedelta(seconds=10))
    add_node_event(engine, "reported")
    gap = open_gap(engine, ago + timedelta(seconds=5), "socket_lost", "h")
    close_gap(engine, gap, ago + timedelta(seconds=20), "pending")
    assert [c.launch_id for c in candidates(engine, NOW, RETENTION, 10)] == ["reported"]
    assert settle_gaps(engine) == 0
    mark(engine, "reported", PULLED, NOW, instance_id="x")
    assert candidates(engine, NOW, RETENTION, 10) == []
    assert settle_gaps(engine) == 1
    assert recent_gaps(engine, 1)[0]["backfill"] == "pulled"


def test_past_retention_is_expired_once_and_counted(engine: Engine) -> None:
    old = NOW - timedelta(days=11)
    add_launch(engine, "old", "completed", old, ended_at=old)
    assert expire(engine, NOW, RETENTION, 10) == ["old"]
    assert expire(engine, NOW, RETENTION, 10) == []
    assert counts(engine) == {"pending": 0, "pulled": 0, "ambiguous": 0, "expired": 1}
    assert delete_old_pulls(engine, cutoff=NOW + timedelta(seconds=1), limit=10) == 1
