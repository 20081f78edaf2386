import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage import launches as store
from storage.launches import NewLaunch
from storage.writer import EventWriter

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


def new_launch(**overrides: object) -> NewLaunch:
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "flow_id": "flow-1",
        "flow_version": None,
        "name": None,
        "input_data": None,
        "idempotency_key": None,
        "timeout_seconds": None,
        "idle_timeout_seconds": None,
        "created_at": NOW,
        "deadline_at": NOW + timedelta(hours=1),
    }
    values.update(overrides)
    return NewLaunch(**values)  # type: ignore[arg-type]


def test_the_same_idempotency_key_returns_the_original_launch(engine: Engine) -> None:
    first, created = store.insert_launch(engine, new_launch(idempotency_key="k-1"))
    again, created_again = store.insert_launch(engine, new_launch(idempotency_key="k-1"))
    assert (created, created_again) == (True, False)
    assert again["id"] == first["id"]


async def test_a_summary_shows_the_node_its_counted_events_reached(engine: Engine) -> None:
    from tests.storage.test_tracking import event

    launch, _ = store.insert_launch(engine, new_launch())
    assert store.launch_summary(engine, "no-such-launch") is None
    writer = EventWriter(engine)
    writer.start()
    try:
        # Written with the launch id, but not yet looked at by the tracker.
        await writer.write([event("node_enter", 1, launch_id=launch["id"], node_id="ask")])
    finally:
        writer.close()
    summary = store.launch_summary(engine, launch["id"])
    assert summary is not None
    assert summary.event_counts == {"node_enter": 1}
    assert summary.last_event is not None
    assert summary.row["current_node_id"] == "ask"
    assert summary.row["last_event_at"] == summary.last_event["received_at"]
    stored = store.get_launch(engine, launch["id"])
    assert stored is not None and stored["current_node_id"] is None  # the row itself waits
