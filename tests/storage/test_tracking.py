"""Following launches: events attributed to them, their state moved forward."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from storage import launches as store
from storage import tracking
from storage.engine import make_engine, write_transaction
from storage.records import EventRecord
from storage.writer import EventWriter
from tests.storage.test_launches import NOW, new_launch


def event(kind: str, second: int, **keys: str | None) -> EventRecord:
    name = f"{kind}-{second}-{sorted(keys.items())}"
    return EventRecord(
        hashlib.blake2b(name.encode(), digest_size=16).digest(),
        kind,
        "data_action",
        NOW + timedelta(seconds=second),
        NOW + timedelta(seconds=second),
        keys.get("launch_id"),
        keys.get("execution_id"),
        keys.get("conversation_id"),
        keys.get("flow_id"),
        None,
        keys.get("node_id"),
        None,
        None,
        None,
        keys.get("outcome"),
        None,
        None,
        "{}",
    )


@pytest.fixture
async def write(engine: Engine):  # type: ignore[no-untyped-def]
    writer = EventWriter(engine)
    writer.start()

    async def write(*rows: EventRecord) -> None:
        await writer.write(list(rows))

    yield write
    writer.close()


def state(engine: Engine, launch_id: str) -> str:
    row = store.get_launch(engine, launch_id)
    assert row is not None
    return str(row["state"])


def refresh(engine: Engine, launch_id: str) -> None:
    tracking.refresh(engine, launch_ids=[launch_id], now=NOW)


async def test_events_before_the_execution_id_is_known_are_attributed_once_it_is(
    engine: Engine, write
) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    await write(event("node_enter", 1, execution_id="x-1", node_id="a"))
    refresh(engine, launch["id"])
    assert state(engine, launch["id"]) == "pending"
    store.mark_launched(engine, launch["id"], "x-1", NOW)
    refresh(engine, launch["id"])
    row = store.get_launch(engine, launch["id"])
    assert row is not None
    assert (row["state"], row["current_node_id"]) == ("running", "a")
    counts, _ = store.event_summary(engine, launch["id"])
    assert counts == {"node_enter": 1}


async def test_attribution_by_conversation_leaves_other_flows_events_alone(
    engine: Engine, write
) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    store.mark_launched(engine, launch["id"], "x-1", NOW)
    store.set_conversation(engine, launch["id"], "c-1", NOW)
    await write(
        event("node_enter", 1, conversation_id="c-1", node_id="mine"),
        event("node_enter", 2, conversation_id="c-1", flow_id="other-flow", node_id="ivr"),
        event("node_enter", 3, conversation_id="c-1", execution_id="x-2", node_id="other-run"),
    )
    tracking.refresh(engine, conversation_ids=["c-1"], now=NOW)
    counts, last = store.event_summary(engine, launch["id"])
    assert counts == {"node_enter": 1}
    assert last is not None
    assert last["node_id"] == "mine"


async def test_an_error_with_the_complete_fails_the_launch(engine: Engine, write) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    await write(
        event("error", 1, launch_id=launch["id"]), event("complete", 2, launch_id=launch["id"])
    )
    refresh(engine, launch["id"])
    assert state(engine, launch["id"]) == "failed"


async def test_a_late_error_turns_a_completed_launch_failed(engine: Engine, write) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    await write(event("complete", 5, launch_id=launch["id"]))
    refresh(engine, launch["id"])
    assert state(engine, launch["id"]) == "completed"
    await write(event("error", 4, launch_id=launch["id"]))
    refresh(engine, launch["id"])
    assert state(engine, launch["id"]) == "failed"


async def test_end_states_set_by_flowtrack_are_never_left(engine: Engine, write) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    store.mark_launch_failed(engine, launch["id"], "not.found", "no such flow", NOW)
    await write(
        event("node_enter", 1, launch_id=launch["id"]), event("complete", 2, launch_id=launch["id"])
    )
    refresh(engine, launch["id"])
    assert state(engine, launch["id"]) == "launch_failed"


async def test_a_terminated_outcome_ends_the_launch_terminated(engine: Engine, write) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    await write(event("complete", 2, launch_id=launch["id"], outcome="terminated"))
    refresh(engine, launch["id"])
    assert state(engine, launch["id"]) == "terminated"


def said(record: EventRecord, **fields: str) -> EventRecord:
    return record._replace(**fields)


def why(engine: Engine, launch_id: str) -> tuple[str, str | None, str | None]:
    row = store.get_launch(engine, launch_id)
    assert row is not None
    return row["state"], row["error_code"], row["state_reason"]


async def test_a_failed_launch_says_why_in_its_own_row(engine: Engine, write) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    mine = launch["id"]
    await write(
        said(
            event("error", 1, launch_id=mine),
            error_code="DATA_ACTION_FAILED",
            error_message="lookup failed",
        ),
        said(event("error", 2, launch_id=mine), error_code="LATER", error_message="then this"),
        event("complete", 3, launch_id=mine, outcome="failed"),
    )
    refresh(engine, mine)
    assert why(engine, mine) == ("failed", "DATA_ACTION_FAILED", "lookup failed")


async def test_a_failing_completion_names_its_own_error_first(engine: Engine, write) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    mine = launch["id"]
    await write(
        said(
            event("complete", 3, launch_id=mine, outcome="failed"),
            error_code="FLOW_ERROR",
            error_message="the flow raised",
        )
    )
    refresh(engine, mine)
    assert why(engine, mine) == ("failed", "FLOW_ERROR", "the flow raised")


async def test_a_timed_out_launch_says_why_from_flowtracks_decision(engine: Engine, write) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    mine = launch["id"]
    own = {"source": "flowtrack"}
    await write(
        event("node_enter", 1, launch_id=mine, node_id="wait"),
        said(
            event("error", 9, launch_id=mine),
            **own,
            error_code="timeout",
            error_message="no event for 300 s (idle limit)",
        ),
        said(
            event("error", 10, launch_id=mine),
            **own,
            error_code="disconnect_requested",
            error_message="disconnect accepted",
        ),
        said(
            event("complete", 11, launch_id=mine, outcome="timed_out"),
            **own,
            error_message="disconnect confirmed",
        ),
    )
    refresh(engine, mine)
    assert why(engine, mine) == ("timed_out", "timeout", "no event for 300 s (idle limit)")


def test_refreshing_keys_that_name_no_launch_leaves_the_write_lock_alone(
    engine: Engine, database_url: str
) -> None:
    # Another writer holds the lock (on PostgreSQL: row locks on the launches table).
    blocker = make_engine(database_url, sqlite_busy_timeout_ms=100)
    launch, _ = store.insert_launch(engine, new_launch())
    with write_transaction(blocker) as connection:
        connection.execute(
            update(store.launches).where(store.launches.c.id == launch["id"]).values(updated_at=NOW)
        )
        seen = tracking.refresh(
            engine,
            launch_ids=["nobody"],
            execution_ids=["x-unknown"],
            conversation_ids=["c-unknown"],
            now=NOW,
        )
    blocker.dispose()
    assert seen == []


def test_refreshing_a_known_launch_still_moves_it_forward(engine: Engine) -> None:
    launch, _ = store.insert_launch(engine, new_launch())
    store.mark_launched(engine, launch["id"], "x-1", NOW)
    seen = tracking.refresh(engine, execution_ids=["x-1", "x-unknown"], now=NOW)
    assert seen == [launch["id"]]


def test_a_refresh_among_hundreds_of_unknown_keys_finds_each_launch_they_name(
    engine: Engine,
) -> None:
    by_id, _ = store.insert_launch(engine, new_launch())
    by_execution, _ = store.insert_launch(engine, new_launch())
    store.mark_launched(engine, by_execution["id"], "x-known", NOW)
    by_conversation, _ = store.insert_launch(engine, new_launch())
    store.set_conversation(engine, by_conversation["id"], "c-known", NOW)
    store.insert_launch(engine, new_launch())  # named by no key: left alone
    unknown = [str(uuid.uuid4()) for _ in range(300)]
    seen = tracking.refresh(
        engine,
        launch_ids=[*unknown, by_id["id"]],
        execution_ids=[*unknown, "x-known"],
        conversation_ids=["c-known", *unknown],
        now=NOW,
    )
    assert sorted(seen) == sorted([by_id["id"], by_execution["id"], by_conversation["id"]])
