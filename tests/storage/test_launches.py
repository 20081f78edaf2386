import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage import launches as store
from storage.launches import NewLaunch

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
