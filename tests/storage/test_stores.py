"""The stores: each the async face of its module's queries, run in a worker thread."""

import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from storage import flowstats, history
from storage.engine import make_engine
from storage.errors import StorageUnavailable
from storage.flows import FlowStore
from storage.history import HistoryStore
from storage.launches import LaunchFilter, LaunchStore
from storage.migrations import SchemaStore, head_revision
from storage.queries import EventFilter, EventStore
from storage.records import DeadLetterRecord
from storage.retention import RetentionStore
from storage.store import Store
from storage.sweeps import SweepStore
from storage.writer import EventWriter
from tests.storage.test_history import T0, event, visit
from tests.storage.test_launches import new_launch
from tests.storage.test_retention import (
    NOW,
    OLD,
    RECENT,
    add_dead_letter,
    add_events,
    add_launch,
    count,
    dead_letters,
    events,
    launches,
)


@pytest.fixture
async def writer(engine: Engine) -> AsyncIterator[EventWriter]:
    writer = EventWriter(engine)
    writer.start()
    yield writer
    await writer.aclose()


async def test_a_store_runs_its_queries_in_a_worker_thread_with_its_engine() -> None:
    engine = make_engine("sqlite:///unused.db")  # never connected: the query is a stand-in
    seen: list[object] = []

    def query(given: Engine, value: int, *, twice: bool) -> int:
        seen.extend([given, threading.current_thread()])
        return value * 2 if twice else value

    class Doubler(Store):
        async def double(self, value: int) -> int:
            return await self._run(query, value, twice=True)

    assert await Doubler(engine).double(21) == 42
    assert seen[0] is engine
    assert seen[1] is not threading.current_thread()
    engine.dispose()


async def test_the_launch_store_records_follows_and_lists_launches(
    engine: Engine, writer: EventWriter
) -> None:
    store = LaunchStore(engine)
    row, created = await store.insert(new_launch(idempotency_key="k-1"))
    again, created_again = await store.insert(new_launch(idempotency_key="k-1"))
    assert (created, created_again, again["id"]) == (True, False, row["id"])
    launch_id = row["id"]

    await store.mark_launched(launch_id, "x-1", NOW)
    assert await store.set_conversation(launch_id, "c-1", NOW)
    assert not await store.set_conversation(launch_id, "c-2", NOW)
    await writer.write([visit("a", 100, 200, conversation="c-1", execution="x-1")[0]])
    assert await store.refresh(execution_ids=["x-1", "x-unknown"], now=NOW) == [launch_id]

    found = await store.get(launch_id)
    assert found is not None
    assert (found["state"], found["current_node_id"]) == ("running", "a")
    counts, last = await store.event_summary(launch_id)
    assert counts == {"node_enter": 1}
    assert last is not None
    assert last["node_id"] == "a"

    await store.note_reason(launch_id, "waiting", NOW)
    found = await store.get(launch_id)
    assert found is not None
    assert (found["state"], found["state_reason"]) == ("running", "waiting")
    assert await store.get("nobody") is None

    refused, _ = await store.insert(new_launch())
    await store.mark_launch_failed(refused["id"], "not.found", "no such flow", NOW)
    failed = await store.list(LaunchFilter(state="launch_failed"))
    assert [(r["id"], r["error_code"]) for r in failed] == [(refused["id"], "not.found")]
    assert len(await store.list(LaunchFilter(), limit=1)) == 1


async def test_the_event_store_lists_events_and_dead_letters(
    engine: Engine, writer: EventWriter
) -> None:
    await writer.write(
        [*visit("a", 100, 200), event("complete", 300)],
        [DeadLetterRecord(NOW, "unsupported", "[]", None, "{}")],
    )
    store = EventStore(engine)
    listed = await store.list(EventFilter(conversation_id="c-1"))
    assert [row["kind"] for row in listed] == ["node_enter", "node_exit", "complete"]
    first = listed[0]
    after = await store.list(
        EventFilter(kind="node_exit"), after=(first["occurred_at"], first["id"]), limit=5
    )
    assert [row["node_id"] for row in after] == ["a"]
    letters = await store.list_dead_letters()
    assert [row["reason"] for row in letters] == ["unsupported"]
    assert await store.list_dead_letters(before=letters[0]["id"]) == []


async def test_the_history_store_reads_paths(engine: Engine, writer: EventWriter) -> None:
    launch_id = (await LaunchStore(engine).insert(new_launch()))[0]["id"]
    await writer.write([*visit("a", 100, 200, launch=launch_id), event("complete", 300)])
    store = HistoryStore(engine)
    page = await store.transitions("conversation_id", "c-1", limit=10)
    assert page is not None
    assert [(step.type, step.node_id) for step in page.steps] == [
        ("node", "a"),
        ("complete", None),
    ]
    assert await store.transitions("conversation_id", "c-unknown", limit=10) is None
    row, launch_page = await store.launch_transitions(launch_id, limit=10)
    assert row is not None
    assert launch_page is not None
    assert [step.node_id for step in launch_page.steps] == ["a"]
    assert await store.launch_transitions("nobody", limit=10) == (None, None)
    expected = history.launch_transitions(engine, launch_id, limit=10)[1]
    assert expected is not None
    assert launch_page.steps[0].event_ids == expected.steps[0].event_ids


async def test_the_flow_store_lists_flows_and_computes_their_stats(
    engine: Engine, writer: EventWriter
) -> None:
    await writer.write(
        [
            *visit("a", 100, 300, conversation="c-1"),
            *visit("a", 100, 200, conversation="c-2"),
            *visit("b", 0, 50, conversation="c-3", flow="f-2"),
        ]
    )
    await LaunchStore(engine).insert(new_launch(flow_id="f-3"))
    store = FlowStore(engine)
    assert [flow.flow_id for flow in await store.list()] == ["f-1", "f-2", "f-3"]
    assert [flow.flow_id for flow in await store.list(after="f-1", limit=1)] == ["f-2"]
    assert await store.known("f-3")
    assert not await store.known("f-4")
    stats = await store.stats("f-1")
    assert stats == flowstats.flow_stats(engine, "f-1")
    assert (stats.runs, [(node.node_id, node.entries) for node in stats.nodes]) == (2, [("a", 2)])
    # Durations from the rollups' log-spaced bins: within 4.4 % of the exact values.
    node = stats.nodes[0]
    assert (node.visits, node.duration(0.0), node.longest()) == (
        2,
        pytest.approx(100.0, rel=0.045),
        pytest.approx(200.0, rel=0.045),
    )
    # Windows are whole hours: the next hour holds none of them.
    later = await store.stats("f-1", since=T0 + timedelta(hours=1))
    assert later.runs == 0


async def test_the_sweep_store_claims_releases_and_gives_up(engine: Engine) -> None:
    launch_store = LaunchStore(engine)
    due, _ = await launch_store.insert(new_launch(deadline_at=NOW - timedelta(minutes=1)))
    await launch_store.insert(new_launch(deadline_at=NOW + timedelta(hours=1)))
    store = SweepStore(engine)
    claimed = await store.claim_due(now=NOW, owner="me", lease_seconds=60, limit=10)
    assert [row["id"] for row in claimed] == [due["id"]]
    assert await store.claim_due(now=NOW, owner="other", lease_seconds=60, limit=10) == []
    assert await store.claim_one(due["id"], now=NOW, owner="other", lease_seconds=60) is None
    await store.release(due["id"], "me", due_at=None, stop_requested_at=NOW)
    assert await store.stopped_keys(since=NOW) == [(due["id"], None, None)]
    assert await store.stopped_keys(since=NOW + timedelta(seconds=1)) == []
    again = await store.claim_one(due["id"], now=NOW, owner="other", lease_seconds=60)
    assert again is not None
    assert again["claimed_by"] == "other"
    await store.give_up(due["id"], "other", error="still connected", now=NOW)
    ended = await launch_store.get(due["id"])
    assert ended is not None
    assert (ended["state"], ended["state_reason"], ended["claimed_by"]) == (
        "termination_failed",
        "still connected",
        None,
    )


async def test_the_retention_store_deletes_a_batch_at_a_time(engine: Engine) -> None:
    add_events(engine, OLD, 3)
    add_events(engine, RECENT, 1)
    add_launch(engine, "completed", OLD, ended_at=OLD)
    add_launch(engine, "running", OLD)
    add_dead_letter(engine, OLD)
    add_dead_letter(engine, RECENT)
    store = RetentionStore(engine)
    cutoff = NOW - timedelta(days=30)
    batch = await store.delete_old_events(cutoff=cutoff, after=None, limit=2)
    assert batch.deleted == 2
    assert batch.after is not None
    batch = await store.delete_old_events(cutoff=cutoff, after=batch.after, limit=2)
    assert (batch.deleted, count(engine, events)) == (1, 1)
    deleted = await store.delete_finished_launches(
        cutoff=cutoff, now=NOW, keep_stopped_since=NOW - timedelta(days=7), limit=10
    )
    assert (deleted, count(engine, launches)) == (1, 1)
    assert await store.delete_old_dead_letters(cutoff=cutoff, limit=10) == 1
    assert count(engine, dead_letters) == 1


async def test_the_schema_store_says_which_migration_the_database_is_at(engine: Engine) -> None:
    assert await SchemaStore(engine).check_ready() == head_revision()


async def test_the_writer_closes_from_the_event_loop(engine: Engine) -> None:
    writer = EventWriter(engine)
    writer.start()
    await writer.aclose()
    with pytest.raises(StorageUnavailable, match="not running"):
        await writer.write([event("start", 0)])
