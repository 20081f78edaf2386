"""A path drawn as a timeline: where each step goes on the page, computed on the server.

One row per step of the path (storage.visits): a node visit is a bar from its enter to
its exit; a start, an error, a completion or a checkpoint is a mark at its moment. A
visit still open runs to the end of the axis, and one whose enter or exit never
arrived is drawn hollow; an error is red and its code and message go with it;
flowtrack's own steps (a timeout, a disconnect, a stop) are marked as flowtrack's.
The template only places what is computed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from storage.visits import Step
from storage.vocabulary import FLOWTRACK

WIDTH: Final = 1000
LABEL_WIDTH: Final = 260
RIGHT: Final = 16
ROW: Final = 28
AXIS: Final = 28
MIN_BAR: Final = 3.0
TICKS: Final = 5

#: How each visit outcome is drawn (a CSS class) and said.
OUTCOMES: Final = {
    "exited": ("ok", "left normally"),
    "errored": ("error", "failed"),
    "open": ("open", "still inside (no exit yet)"),
    "missing_enter": ("missing", "enter never arrived"),
    "missing_exit": ("missing", "exit never arrived"),
}


@dataclass(frozen=True)
class Row:
    """One step, placed: ``x``/``width`` of its bar (or the ``x`` of its mark), ``y`` its row."""

    kind: str  # "bar" or "mark"
    label: str
    detail: str
    source: str
    css: str
    x: float
    width: float
    y: float
    duration_ms: float | None
    explanation: str
    own: bool


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    """The drawing: its rows, axis ticks and size."""

    rows: list[Row]
    ticks: list[Tick]
    width: int
    height: int
    label_width: int
    start: datetime | None
    span_ms: float

    @property
    def visits(self) -> int:
        """How many node visits (bars) it draws."""
        return sum(1 for row in self.rows if row.kind == "bar")


def timeline(steps: list[Step], now: datetime) -> Timeline:
    """The timeline of ``steps`` (history order); open visits run up to ``now``."""
    if not steps:
        return Timeline([], [], WIDTH, AXIS, LABEL_WIDTH, None, 0.0)
    moments = [moment for step in steps for moment in _moments(step) if moment is not None]
    start = min(moments)
    end = max(moments)
    if any(step.type == "node" and step.outcome == "open" for step in steps):
        end = max(end, now)
    span_ms = max((end - start).total_seconds() * 1000, 1.0)
    scale = (WIDTH - LABEL_WIDTH - RIGHT) / span_ms

    def x_of(moment: datetime) -> float:
        return round(LABEL_WIDTH + (moment - start).total_seconds() * 1000 * scale, 2)

    rows = []
    for index, step in enumerate(steps):
        y = AXIS + index * ROW
        rows.append(_row(step, y, x_of, end, steps[index + 1 :]))
    ticks = [
        Tick(
            round(LABEL_WIDTH + span_ms * scale * n / (TICKS - 1), 2),
            _offset(span_ms * n / (TICKS - 1)),
        )
        for n in range(TICKS)
    ]
    return Timeline(rows, ticks, WIDTH, AXIS + len(steps) * ROW + 4, LABEL_WIDTH, start, span_ms)


def _row(
    step: Step, y: float, place: Callable[[datetime], float], end: datetime, later: list[Step]
) -> Row:
    own = step.source == FLOWTRACK
    label = step.node_name or step.node_id or step.type.replace("_", " ")
    if step.type != "node":
        css, said = _mark_style(step)
        return Row(
            "mark",
            _mark_label(step, label),
            said,
            step.source,
            css + (" own" if own else ""),
            place(step.at),
            0.0,
            y,
            None,
            _explain(step),
            own,
        )
    entered = step.entered_at or step.at
    exited = step.exited_at
    if exited is None:
        # Open: up to the end of the axis. A missing exit: up to the next step, if any.
        following = next((s.at for s in later if s.at is not None and s.at >= entered), None)
        exited = end if step.outcome == "open" or following is None else following
    left, right = place(entered), place(exited)
    duration_ms = None
    if step.entered_at is not None and step.exited_at is not None:
        duration_ms = round((step.exited_at - step.entered_at).total_seconds() * 1000, 3)
    css, said = OUTCOMES.get(step.outcome or "", ("ok", step.outcome or ""))
    return Row(
        "bar",
        label,
        " · ".join(part for part in (step.node_type, said) if part),
        step.source,
        css + (" own" if own else ""),
        left,
        max(right - left, MIN_BAR),
        y,
        duration_ms,
        _explain(step),
        own,
    )


def _mark_style(step: Step) -> tuple[str, str]:
    if step.type == "error":
        return "error", "error"
    if step.type == "complete":
        return "complete", f"completed: {step.outcome}" if step.outcome else "completed"
    return step.type.replace("_", "-"), step.type.replace("_", " ")


def _mark_label(step: Step, label: str) -> str:
    if step.source == FLOWTRACK and step.error_code:
        return f"flowtrack: {step.error_code.replace('_', ' ')}"
    if step.source == FLOWTRACK:
        return f"flowtrack: {step.type}"
    return label if step.node_id else step.type.replace("_", " ")


def _explain(step: Step) -> str:
    parts = []
    if step.error_code:
        parts.append(step.error_code)
    if step.error_message:
        parts.append(step.error_message)
    return ": ".join(parts)


def _moments(step: Step) -> list[datetime | None]:
    return [step.at, step.entered_at, step.exited_at]


def _offset(milliseconds: float) -> str:
    if milliseconds < 1000:
        return f"+{milliseconds:.0f} ms"
    if milliseconds < 60_000:
        return f"+{milliseconds / 1000:.1f} s"
    if milliseconds < 3_600_000:
        return f"+{milliseconds / 60_000:.1f} min"
    return f"+{milliseconds / 3_600_000:.1f} h"
