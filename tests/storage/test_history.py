import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from storage import history, rollups
from storage import launches as store
from storage.flowruns import RUN_SHARDS, count_runs, merge_runs
from storage.flows import flow_known, list_flows
from storage.flowstats import flow_stats
from storage.history import transitions
from storage.launches import NewLaunch
from storage.records import EventRecord
from storage.writer import EventWriter

T0 = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
Write = Callable[..., Awaitable[None]]


def event(
    kind: str,
    ms: int,
    node: str | None = None,
    *,
    source: str = "data_action",
    launch: str | None = None,
    conversation: str | None = "c-1",
    execution: str | None = None,
    flow: str = "f-1",
    node_type: str | None = "Task",
    output_path: str | None = None,
    outcome: str | None = None,
    error_code: str | None = None,
) -> EventRecord:
    at = T0 + timedelta(milliseconds=ms)
    identity = f"{kind}|{ms}|{node}|{source}|{launch}|{conversation}|{execution}|{flow}"
    return EventRecord(
        hashlib.blake2b(identity.encode(), digest_size=16).digest(),
        kind,
        source,
        at,
        at,
        launch,
        execution,
        conversation,
        flow,
        None,
        node,
        node_type if node else None,
        f"Node {node}" if node else None,
        output_path,
        outcome,
        error_code,
        "it failed" if error_code else None,
        "{}",
    )


def visit(node: str, entered: int, left: int, **fields: Any) -> list[EventRecord]:
    return [
        event("node_enter", entered, node, **fields),
        event("node_exit", left, node, output_path="__SUCCESS__", **fields),
    ]


@pytest.fixture
async def write(engine: Engine) -> AsyncIterator[Write]:
    writer = EventWriter(engine)
    writer.start()

    async def write(*rows: EventRecord) -> None:
        await writer.write(list(rows))

    yield write
    writer.close()


def path(engine: Engine, conversation: str = "c-1", **options: Any) -> list[tuple[Any, ...]]:
    page = transitions(engine, "conversation_id", conversation, limit=1000, **options)
    assert page is not None
    return [(step.type, step.node_id, step.outcome) for step in page.steps]


def launch(engine: Engine, flow: str = "f-1") -> str:
    new = NewLaunch(
        id=str(uuid.uuid4()),
        flow_id=flow,
        flow_version=None,
        name=None,
        input_data=None,
        idempotency_key=None,
        timeout_seconds=None,
        idle_timeout_seconds=None,
        created_at=T0,
        deadline_at=T0 + timedelta(hours=1),
    )
    row, _ = store.insert_launch(engine, new)
    return str(row["id"])


async def test_a_path_is_built_in_history_order_whatever_the_arrival_order(
    engine: Engine, write: Write
) -> None:
    complete = event("complete", 900, outcome="completed")
    enter_b, exit_b = visit("b", 500, 800)
    enter_a, exit_a = visit("a", 100, 400)
    await write(complete, exit_b)
    await write(enter_a, enter_b)
    await write(event("start", 0), exit_a, exit_a)
    page = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert page is not None
    assert [(step.type, step.node_id, step.outcome) for step in page.steps] == [
        ("start", None, None),
        ("node", "a", "exited"),
        ("node", "b", "exited"),
        ("complete", None, "completed"),
    ]
    a = page.steps[1]
    assert (a.entered_at, a.exited_at) == (T0 + timedelta(milliseconds=100), exit_a.occurred_at)
    assert (a.output_path, a.node_name, a.source) == ("__SUCCESS__", "Node a", "data_action")


async def test_a_node_visited_twice_appears_twice(engine: Engine, write: Write) -> None:
    await write(*visit("ask", 100, 200), *visit("check", 300, 400), *visit("ask", 500, 600))
    assert path(engine) == [
        ("node", "ask", "exited"),
        ("node", "check", "exited"),
        ("node", "ask", "exited"),
    ]


async def test_events_that_do_not_pair_up_say_which_half_is_missing(
    engine: Engine, write: Write
) -> None:
    await write(
        event("node_exit", 100, "lost-enter"),
        event("node_enter", 200, "re-entered"),
        event("node_enter", 300, "re-entered"),
        event("node_exit", 400, "re-entered"),
        event("node_enter", 500, "cut-short"),
        event("complete", 600, outcome="completed"),
    )
    assert path(engine) == [
        ("node", "lost-enter", "missing_enter"),
        ("node", "re-entered", "missing_exit"),
        ("node", "re-entered", "exited"),
        ("node", "cut-short", "missing_exit"),
        ("complete", None, "completed"),
    ]


async def test_a_visit_without_exit_in_a_running_flow_is_open(engine: Engine, write: Write) -> None:
    await write(*visit("first", 100, 200), event("node_enter", 300, "waiting"))
    page = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert page is not None
    waiting = page.steps[-1]
    assert (waiting.node_id, waiting.outcome, waiting.exited_at) == ("waiting", "open", None)


async def test_an_error_marks_the_visit_it_happened_in(engine: Engine, write: Write) -> None:
    await write(
        event("node_enter", 100, "push"),
        event("error", 250, "push", error_code="DATA_ACTION_FAILED"),
        event("node_enter", 300, "recover"),
        event("error", 350, "recover", error_code="TIMEOUT"),
        event("node_exit", 400, "recover", output_path="__FAILURE__"),
        event("error", 500, "elsewhere", error_code="LOST"),
        event("error", 600, error_code="FLOW_ERROR"),
    )
    page = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert page is not None
    push, recover, elsewhere, flow_error = page.steps
    assert (push.outcome, push.error_code, push.error_message) == (
        "errored",
        "DATA_ACTION_FAILED",
        "it failed",
    )
    assert push.exited_at == T0 + timedelta(milliseconds=250)  # left when it failed
    assert (recover.outcome, recover.exited_at) == ("errored", T0 + timedelta(milliseconds=400))
    assert (elsewhere.type, elsewhere.node_id, elsewhere.error_code) == (
        "error",
        "elsewhere",
        "LOST",
    )
    assert (flow_error.type, flow_error.node_id) == ("error", None)


async def test_flowtracks_own_records_are_steps_of_the_path(engine: Engine, write: Write) -> None:
    await write(
        event("start", 0, source="flowtrack"),
        event("node_enter", 100, "wait"),
        event("error", 900, source="flowtrack", error_code="timeout"),
        event("complete", 900, source="flowtrack", outcome="timed_out"),
    )
    page = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert page is not None
    assert [(step.type, step.source, step.outcome, step.error_code) for step in page.steps] == [
        ("start", "flowtrack", None, None),
        ("node", "data_action", "missing_exit", None),
        ("error", "flowtrack", None, "timeout"),
        ("complete", "flowtrack", "timed_out", None),
    ]


async def test_a_visit_whose_exit_follows_a_termination_is_one_visit(
    engine: Engine, write: Write
) -> None:
    # flowtrack records the termination, then the platform reports the node's exit.
    await write(
        event("start", 0, source="flowtrack"),
        event("node_enter", 100, "wait"),
        event("complete", 500, source="flowtrack", outcome="terminated"),
        event("node_exit", 700, "wait", output_path="__DISCONNECT__"),
        event("node_enter", 800, "late"),
    )
    whole = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert whole is not None
    assert [(step.type, step.node_id, step.outcome) for step in whole.steps] == [
        ("start", None, None),
        ("node", "wait", "exited"),
        ("complete", None, "terminated"),
        ("node", "late", "open"),
    ]
    wait = whole.steps[1]
    assert (wait.exited_at, wait.output_path) == (
        T0 + timedelta(milliseconds=700),
        "__DISCONNECT__",
    )
    assert len(wait.event_ids) == 2
    for limit in (1, 2, 3):
        shown = []
        page = transitions(engine, "conversation_id", "c-1", limit=limit)
        while page is not None:
            shown += page.steps
            if page.resume is None:
                break
            page = transitions(engine, "conversation_id", "c-1", limit=limit, resume=page.resume)
        assert [(s.type, s.node_id, s.outcome) for s in shown] == [
            (s.type, s.node_id, s.outcome) for s in whole.steps
        ], limit


async def test_a_visit_a_completion_overtook_lacks_its_exit_once_the_history_ends(
    engine: Engine, write: Write
) -> None:
    await write(
        event("node_enter", 100, "cut-short"),
        event("complete", 500, source="flowtrack", outcome="terminated"),
    )
    assert path(engine) == [
        ("node", "cut-short", "missing_exit"),
        ("complete", None, "terminated"),
    ]


async def test_node_events_come_from_data_actions_when_both_sources_report_them(
    engine: Engine, write: Write
) -> None:
    await write(
        *visit("a", 100, 200),
        *visit("a", 105, 210, source="notification"),
        event("error", 105, "a", source="notification", error_code="PLATFORM_SAYS"),
        event("complete", 300, source="notification", outcome="completed"),
    )
    page = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert page is not None
    assert page.node_family == "data_action"
    assert [(step.type, step.source, step.outcome) for step in page.steps] == [
        ("node", "data_action", "exited"),
        ("complete", "notification", "completed"),
    ]


async def test_platform_node_events_are_the_path_when_no_data_action_reports_nodes(
    engine: Engine, write: Write
) -> None:
    await write(
        event("start", 0),
        *visit("a", 100, 200, source="notification"),
        *visit("b", 200, 300, source="eventbridge"),
        event("node_exit", 300, "m-1", source="notification", node_type="milestone"),
    )
    page = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert page is not None
    assert page.node_family == "platform"
    assert [(step.type, step.node_id, step.outcome) for step in page.steps] == [
        ("start", None, None),
        ("node", "a", "exited"),
        ("node", "b", "exited"),
        ("milestone", "m-1", None),
    ]


async def test_pages_of_a_long_history_add_up_to_the_whole_path(
    engine: Engine, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "CHUNK", 4)  # several reads per page as well
    rows = [event("start", 0)]
    for loop in range(6):
        base = 1000 * (loop + 1)
        rows += [
            event("node_enter", base, "outer"),
            *visit("inner", base + 100, base + 200),
            event("error", base + 300, "outer", error_code="SLOW"),
            event("node_exit", base + 400, "outer"),
        ]
    rows.append(event("node_enter", 9000, "last"))
    await write(*rows)
    whole = transitions(engine, "conversation_id", "c-1", limit=1000)
    assert whole is not None
    for limit in (1, 2, 3, 5):
        shown = []
        page = transitions(engine, "conversation_id", "c-1", limit=limit)
        while page is not None:
            assert len(page.steps) <= limit
            shown += page.steps
            if page.resume is None:
                break
            page = transitions(engine, "conversation_id", "c-1", limit=limit, resume=page.resume)
        assert [(s.node_id, s.outcome, s.exited_at) for s in shown] == [
            (s.node_id, s.outcome, s.exited_at) for s in whole.steps
        ], limit


async def test_a_history_with_no_events_is_none(engine: Engine) -> None:
    assert transitions(engine, "conversation_id", "nobody", limit=10) is None


async def test_launch_histories_are_read_by_launch_id(engine: Engine, write: Write) -> None:
    await write(*visit("a", 100, 200, launch="l-1"), *visit("b", 100, 200, launch="l-2"))
    page = transitions(engine, "launch_id", "l-2", limit=10)
    assert page is not None
    assert [step.node_id for step in page.steps] == ["b"]


async def test_flow_stats_count_what_every_node_saw(engine: Engine, write: Write) -> None:
    await write(
        # run 1: a → b (b fails, no exit), completes
        *visit("a", 100, 200, conversation="c-1"),
        event("node_enter", 300, "b", conversation="c-1"),
        event("error", 400, "b", conversation="c-1", error_code="E"),
        event("complete", 500, conversation="c-1", outcome="failed"),
        # run 2: a → a → b, still inside b; the platform's copy is not counted twice
        *visit("a", 100, 300, conversation="c-2"),
        *visit("a", 110, 310, conversation="c-2", source="notification"),
        *visit("a", 400, 500, conversation="c-2"),
        event("node_enter", 600, "b", conversation="c-2"),
        # run 3: only the platform reported it
        *visit("a", 100, 150, conversation="c-3", source="notification"),
    )
    assert rollups.catch_up(engine)
    stats = flow_stats(engine, "f-1")
    nodes = {node.node_id: node for node in stats.nodes}
    assert stats.runs == 3
    assert (nodes["a"].entries, nodes["a"].exits, nodes["a"].errors, nodes["a"].open_now) == (
        4,
        4,
        0,
        0,
    )
    assert (nodes["b"].entries, nodes["b"].exits, nodes["b"].errors, nodes["b"].open_now) == (
        2,
        0,
        1,
        1,
    )
    # Durations come from log-spaced bins: each quantile within 4.4 % of the exact one.
    assert (nodes["a"].visits, nodes["b"].visits) == (4, 1)
    assert nodes["a"].duration(0.0) == pytest.approx(50.0, rel=0.044)
    assert nodes["a"].duration(1.0) == pytest.approx(200.0, rel=0.044)
    assert nodes["b"].duration(0.5) == pytest.approx(100.0, rel=0.044)  # entered to failed
    assert sorted(stats.paths) == [(("a",), 1), (("a", "a", "b"), 1), (("a", "b"), 1)]


async def test_flow_stats_counted_in_shards_add_up_to_the_whole(
    engine: Engine, write: Write
) -> None:
    await write(
        *visit("a", 100, 200, conversation="1-low"),
        *visit("b", 300, 400, conversation="1-low"),
        *visit("a", 100, 200, conversation="c-high"),
        event("node_enter", 100, "a", launch="f-launched", conversation=None),
    )
    whole = count_runs(engine, "f-1", None, None)
    shards = [count_runs(engine, "f-1", None, None, shard) for shard in RUN_SHARDS]
    assert [part.runs for part in shards] == [1, 2]
    merged = merge_runs(shards)
    assert (merged.runs, merged.paths) == (whole.runs, whole.paths) == (3, merged.paths)
    assert {key: vars(node) for key, node in merged.nodes.items()} == {
        key: vars(node) for key, node in whole.nodes.items()
    }


async def test_flow_stats_rank_paths_and_launch_states(engine: Engine, write: Write) -> None:
    states = {"done": "completed", "stuck": "timed_out", "stuck-too": "timed_out"}
    ids = {}
    for name, outcome in states.items():
        ids[name] = launch(engine)
        rows = [*visit("a", 100, 200, launch=ids[name], conversation=None)]
        if outcome == "timed_out":
            rows.append(event("node_enter", 300, "wait", launch=ids[name], conversation=None))
        rows.append(event("complete", 900, launch=ids[name], conversation=None, outcome=outcome))
        await write(*rows)
        store.refresh(engine, launch_ids=[ids[name]], now=T0)
    launch(engine)  # never started
    assert rollups.catch_up(engine)
    stats = flow_stats(engine, "f-1")
    assert stats.paths[0] == (("a", "wait"), 2)
    assert stats.paths[1] == (("a",), 1)
    assert stats.launches_by_state["timed_out"] == 2
    assert stats.launches_by_state["completed"] == 1
    assert stats.launches_by_state["pending"] == 1
    assert stats.stuck == [("wait", "Node wait", 2)]
    wait = next(node for node in stats.nodes if node.node_id == "wait")
    assert (wait.entries, wait.open_now) == (2, 0)  # timed out: no longer inside


async def test_flow_stats_cover_only_the_time_range(engine: Engine, write: Write) -> None:
    # Windows are whole hours: the late visit is in the hour after T0's.
    hour = 3_600_000
    await write(
        *visit("early", 100, 200), *visit("late", hour + 5000, hour + 5100, conversation="c-2")
    )
    since = T0 + timedelta(hours=1)
    assert rollups.catch_up(engine)
    stats = flow_stats(engine, "f-1", since=since, until=since + timedelta(hours=1))
    assert [node.node_id for node in stats.nodes] == ["late"]
    assert stats.runs == 1
    empty = flow_stats(engine, "f-1", until=T0.replace(minute=0))  # the hour before T0's
    assert (empty.runs, empty.nodes, empty.paths) == (0, [], [])


async def test_flows_are_listed_from_events_and_launches_with_counts(
    engine: Engine, write: Write
) -> None:
    await write(*visit("a", 100, 200, flow="f-events"), event("start", 300, flow="f-both"))
    launch(engine, "f-both")
    launch(engine, "f-launches")
    assert rollups.catch_up(engine)
    flows = list_flows(engine)
    assert [flow.flow_id for flow in flows] == ["f-both", "f-events", "f-launches"]
    both, only_events, only_launches = flows
    assert (both.events, both.launches, both.launches_by_state) == (1, 1, {"pending": 1})
    assert (only_events.events, only_events.launches) == (2, 0)
    assert only_events.last_event_at == T0 + timedelta(milliseconds=200)
    assert (only_launches.events, only_launches.last_launch_at) == (0, T0)
    assert [flow.flow_id for flow in list_flows(engine, after="f-both", limit=1)] == ["f-events"]
    assert flow_known(engine, "f-launches")
    assert not flow_known(engine, "f-nobody")
