from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from receiver.console.timeline import LABEL_WIDTH, WIDTH, timeline
from storage.visits import Step, Walk

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Fact(NamedTuple):
    id: int
    kind: str
    source: str
    occurred_at: datetime
    node_id: str | None = None
    node_type: str | None = None
    node_name: str | None = None
    output_path: str | None = None
    outcome: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    flow_id: str | None = "flow-1"


def walked(*facts: tuple[Any, ...]) -> list[Step]:
    """The path storage.visits makes of these events (ms after T0, kind, source, node…)."""
    walk = Walk(None)
    for number, (ms, kind, source, *rest) in enumerate(facts, start=1):
        walk.add(Fact(number, kind, source, T0 + timedelta(milliseconds=ms), *rest))
    walk.end()
    return walk.steps


def test_each_visit_is_one_bar_from_its_enter_to_its_exit_on_one_time_axis() -> None:
    steps = walked(
        (0, "start", "flowtrack"),
        (100, "node_enter", "data_action", "a", "Task", "Prepare"),
        (300, "node_exit", "data_action", "a", "Task", "Prepare"),
        (300, "node_enter", "data_action", "b", "CallData", "Look up"),
        (1100, "node_exit", "data_action", "b", "CallData", "Look up"),
        (1100, "complete", "data_action", None, None, None, None, "completed"),
    )
    drawn = timeline(steps, now=T0 + timedelta(seconds=5))
    bars = [row for row in drawn.rows if row.kind == "bar"]
    assert [(bar.label, bar.duration_ms, bar.css) for bar in bars] == [
        ("Prepare", 200.0, "ok"),
        ("Look up", 800.0, "ok"),
    ]
    assert drawn.visits == 2
    scale = (WIDTH - LABEL_WIDTH - 16) / 1100
    assert bars[0].x == round(LABEL_WIDTH + 100 * scale, 2)
    assert abs(bars[1].width - 800 * scale) < 0.02
    assert bars[1].x > bars[0].x
    marks = [(row.label, row.css) for row in drawn.rows if row.kind == "mark"]
    assert marks == [("flowtrack: start", "start own"), ("complete", "complete")]
    assert drawn.ticks[0].label == "+0 ms" and drawn.ticks[-1].label == "+1.1 s"


def test_an_error_is_red_and_says_its_code_and_message() -> None:
    steps = walked(
        (0, "node_enter", "data_action", "push", "CallData", "Push"),
        (50, "error", "data_action", "push", "CallData", "Push", None, None, "E42", "no route"),
    )
    (bar,) = timeline(steps, now=T0 + timedelta(seconds=1)).rows
    assert (bar.kind, bar.css, bar.explanation) == ("bar", "error", "E42: no route")


def test_open_and_missing_visits_are_drawn_differently_from_closed_ones() -> None:
    now = T0 + timedelta(seconds=10)
    steps = walked(
        (0, "node_exit", "data_action", "late", "Task", "Lost enter"),
        (1000, "node_enter", "data_action", "wait", "Wait", "Wait"),
    )
    lost, waiting = timeline(steps, now=now).rows
    assert lost.css == "missing"
    assert waiting.css == "open"
    # Still open: the bar runs to now, the end of the axis.
    assert round(waiting.x + waiting.width, 1) == WIDTH - 16


def test_flowtracks_own_steps_are_marked_as_its_own() -> None:
    steps = walked(
        (0, "node_enter", "notification", "talk", "PlayAudio", "Talk"),
        (5000, "error", "flowtrack", None, None, None, None, None, "timeout", "deadline passed"),
        (5100, "complete", "flowtrack", None, None, None, None, "timed_out"),
    )
    rows = timeline(steps, now=T0 + timedelta(seconds=6)).rows
    own = [(row.label, row.css, row.own) for row in rows if row.kind == "mark"]
    assert own == [
        ("flowtrack: timeout", "error own", True),
        ("flowtrack: complete", "complete own", True),
    ]
    assert rows[0].source == "notification"


def test_an_empty_path_draws_nothing() -> None:
    drawn = timeline([], now=T0)
    assert (drawn.rows, drawn.visits) == ([], 0)
