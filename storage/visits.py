"""Node visits: how a history's events become the path a flow took.

A history is walked in history order (occurredAt, then arrival). Every event becomes a
step, except node events that belong to a visit already on the path:

- ``node_enter`` of node X opens a visit of X (outcome ``open``). A visit of X that is
  still open is closed first: its exit never came (``missing_exit``).
- ``node_exit`` of X closes the open visit of X (``exited``, with its output path), or,
  when none is open, is a visit whose enter never came (``missing_enter``).
- ``error`` naming node X marks the open visit of X ``errored`` (first error code and
  message win); without an open visit, or without a node, it is an error step of its own.
- ``complete`` is a step, shown where it happened. It does not cut the visits open at
  that moment in two: an exit after it still closes its visit (a terminated flow's
  last node reports its exit after flowtrack's own completion record). A visit whose
  exit never comes is ``missing_exit`` (or ``errored``) when the history ends.
- ``start`` is a step; so are the platform's milestones and flow outcomes (node exits of
  type ``milestone`` / ``outcome``, which have no enter), and node events that name no
  node (step type ``node_enter`` / ``node_exit``: there is nothing to pair them with).

Visits are keyed by node id alone, so a node visited twice (a loop) is two visits, and
at most one visit per node is open at a time. An errored visit that never reports an
exit counts as left when the error happened.

**One source for node events.** A data action callback and the platform's execution
history describe the same node visit with their own clocks; taking both would double
every visit. So each history takes node events (enters, exits, errors naming a node)
from one family: ``data_action`` when the history has any node enter or exit from a data
action — the flow reports its own steps live, with its author's names — and otherwise
``platform`` (``notification``, ``eventbridge`` and ``history``, which carry the same
facts under the same dedupe keys and are stored once: whichever arrived first is kept).
Steps without a node — start, flow-level errors, completion, flowtrack's own timeout
and termination records — are kept from every source, each with its source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from storage.vocabulary import (
    CHECKPOINT_TYPES,
    COMPLETE,
    DATA_ACTION,
    ERROR,
    ERRORED,
    EXITED,
    MISSING_ENTER,
    MISSING_EXIT,
    NODE_ENTER,
    NODE_EXIT,
    NODE_KINDS,
    OPEN,
    PLATFORM,
)

__all__ = [
    "CHECKPOINT_TYPES",
    "DATA_ACTION",
    "ERRORED",
    "EXITED",
    "MISSING_ENTER",
    "MISSING_EXIT",
    "OPEN",
    "PLATFORM",
    "Fact",
    "Step",
    "Walk",
    "choose_family",
    "family",
    "is_node_event",
]


class Fact(Protocol):
    """What the walk reads of a stored event (a row of the ``events`` table will do)."""

    @property
    def id(self) -> Any: ...
    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def occurred_at(self) -> Any: ...
    @property
    def node_id(self) -> str | None: ...
    @property
    def node_type(self) -> str | None: ...
    @property
    def node_name(self) -> str | None: ...
    @property
    def output_path(self) -> str | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def flow_id(self) -> str | None: ...


def family(source: str) -> str:
    """The node-event family of a source: ``data_action`` or ``platform``."""
    return DATA_ACTION if source == DATA_ACTION else PLATFORM


def is_node_event(kind: str, node_id: str | None, node_type: str | None) -> bool:
    """True for the events that describe a node visit (subject to the source choice)."""
    if node_id is None:
        return False
    if kind == ERROR:
        return True
    return kind in NODE_KINDS and node_type not in CHECKPOINT_TYPES


def choose_family(facts: Iterable[Fact]) -> str | None:
    """The family whose node events a history uses (None: it has no node events)."""
    chosen = None
    for fact in facts:
        if fact.kind in NODE_KINDS and is_node_event(fact.kind, fact.node_id, fact.node_type):
            if fact.source == DATA_ACTION:
                return DATA_ACTION
            chosen = PLATFORM
    return chosen


@dataclass(slots=True, eq=False)
class Step:
    """One step of a path: a node visit, or a start, error, completion or checkpoint.

    ``position`` is where the step begins in history order, ``closed_at`` the position
    of the event that settled a visit. Times are whatever the facts carry (datetimes for
    the API, epoch milliseconds for statistics).
    """

    type: str
    position: Any
    at: Any
    source: str
    flow_id: str | None
    node_id: str | None = None
    node_type: str | None = None
    node_name: str | None = None
    entered_at: Any = None
    exited_at: Any = None
    output_path: str | None = None
    outcome: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    event_ids: list[Any] = field(default_factory=list)
    final: bool = True
    closed_at: Any = None
    errored_at: Any = None
    #: Where the first completion came while this visit was open.
    overtaken_at: Any = None


class Walk:
    """Turns facts, fed in history order, into steps.

    ``carried`` names nodes whose visits were already shown on an earlier page and were
    still open where that page ended: their later events settle them silently.
    """

    def __init__(self, node_family: str | None, carried: Iterable[str] = ()) -> None:
        self.node_family = node_family
        self.steps: list[Step] = []
        self.carried: list[Step] = []
        self._open: dict[str, Step] = {}
        self._settled = 0
        for node in carried:
            hidden = Step("node", None, None, "", None, node_id=node, final=False)
            self._open[node] = hidden
            self.carried.append(hidden)

    def add(self, fact: Fact) -> None:
        """Take the next fact in history order."""
        kind = fact.kind
        position = (fact.occurred_at, fact.id)
        node = fact.node_id
        if is_node_event(kind, node, fact.node_type):
            if self.node_family is not None and family(fact.source) != self.node_family:
                return
            assert node is not None
            if kind == NODE_ENTER:
                self._enter(fact, node, position)
            elif kind == NODE_EXIT:
                self._exit(fact, node, position)
            else:
                self._error(fact, node, position)
            return
        self._point(fact, position)
        if kind == COMPLETE:
            for visit in self._open.values():
                if visit.overtaken_at is None:
                    visit.overtaken_at = position

    def end(self) -> None:
        """The history ends here: a visit a completion overtook lost its exit; any other
        stays open (the flow is still in it)."""
        for visit in list(self._open.values()):
            if visit.overtaken_at is not None:
                self._close(visit, visit.overtaken_at, MISSING_EXIT)
                continue
            if visit.errored_at is not None:
                visit.exited_at = visit.errored_at
            visit.final = True
        self._open.clear()

    def settled(self) -> int:
        """How many steps from the start of the path are final."""
        while self._settled < len(self.steps) and self.steps[self._settled].final:
            self._settled += 1
        return self._settled

    def open_after(self, position: Any, shown: list[Step]) -> list[str]:
        """Nodes of shown (or carried) visits still open just after ``position``."""
        return [
            step.node_id
            for step in (*self.carried, *shown)
            if step.type == "node"
            and step.node_id is not None
            and step.outcome != MISSING_ENTER
            and (step.closed_at is None or step.closed_at > position)
        ]

    def _enter(self, fact: Fact, node: str, position: Any) -> None:
        previous = self._open.get(node)
        if previous is not None:
            self._close(previous, position, MISSING_EXIT)
        visit = self._visit(fact, node, position, OPEN)
        visit.entered_at = fact.occurred_at
        visit.final = False
        self._open[node] = visit

    def _exit(self, fact: Fact, node: str, position: Any) -> None:
        visit = self._open.get(node)
        if visit is None:
            visit = self._visit(fact, node, position, MISSING_ENTER)
            visit.exited_at = fact.occurred_at
            visit.output_path = fact.output_path
            return
        visit.exited_at = fact.occurred_at
        visit.output_path = fact.output_path
        visit.event_ids.append(fact.id)
        _fill_names(visit, fact)
        self._close(visit, position, EXITED)

    def _error(self, fact: Fact, node: str, position: Any) -> None:
        visit = self._open.get(node)
        if visit is None:
            self._point(fact, position)
            return
        visit.event_ids.append(fact.id)
        if visit.errored_at is None:
            visit.errored_at = fact.occurred_at
            visit.error_code = fact.error_code
            visit.error_message = fact.error_message
            visit.outcome = ERRORED
        _fill_names(visit, fact)

    def _close(self, visit: Step, position: Any, outcome: str) -> None:
        del self._open[visit.node_id]  # type: ignore[arg-type]
        visit.closed_at = position
        visit.final = True
        if visit.errored_at is not None:
            if visit.exited_at is None:
                visit.exited_at = visit.errored_at
        else:
            visit.outcome = outcome

    def _visit(self, fact: Fact, node: str, position: Any, outcome: str) -> Step:
        visit = Step(
            "node",
            position,
            fact.occurred_at,
            fact.source,
            fact.flow_id,
            node_id=node,
            node_type=fact.node_type,
            node_name=fact.node_name,
            outcome=outcome,
            event_ids=[fact.id],
        )
        self.steps.append(visit)
        return visit

    def _point(self, fact: Fact, position: Any) -> Step:
        kind = fact.kind
        if kind in NODE_KINDS and fact.node_type in CHECKPOINT_TYPES:
            kind = str(fact.node_type)  # the platform reports no enter for these
        step = Step(
            kind,
            position,
            fact.occurred_at,
            fact.source,
            fact.flow_id,
            node_id=fact.node_id,
            node_type=fact.node_type,
            node_name=fact.node_name,
            output_path=fact.output_path,
            outcome=fact.outcome,
            error_code=fact.error_code,
            error_message=fact.error_message,
            event_ids=[fact.id],
        )
        self.steps.append(step)
        return step


def _fill_names(visit: Step, fact: Fact) -> None:
    # An enter may lack what the exit or error says (and the other way round).
    if visit.node_type is None:
        visit.node_type = fact.node_type
    if visit.node_name is None:
        visit.node_name = fact.node_name
