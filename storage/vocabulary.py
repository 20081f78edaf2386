"""The words stored in flowtrack's tables: every enumeration, defined once.

The database keeps these as plain strings; everything that writes or reads them (the
receiver's ingest, the API, the sweep, storage's own queries) takes them from here.

Events (``events.kind``, ``events.source``)
    :data:`KINDS`: ``start``, ``node_enter``, ``node_exit``, ``error``, ``complete``.
    :data:`SOURCES`: ``data_action`` (the flow's own callbacks), ``notification`` and
    ``eventbridge`` (the platform's), ``flowtrack`` (flowtrack's own records: timeouts,
    disconnects), ``status_poll`` (what the sweep read of an execution's status),
    ``history`` (the execution history flowtrack downloaded).

Source families (storage.visits)
    :data:`FAMILIES`: ``data_action``, ``platform`` (notification, eventbridge and
    history, which report the same visits under the same dedupe keys): the one family
    per history whose node events are used.

Launches (``launches.state``)
    :data:`STATES`, of which :data:`TERMINAL_STATES` are ends and
    :data:`UNFINISHED_STATES` are not.

Nodes and visits (storage.visits)
    :data:`CHECKPOINT_TYPES`: node types the platform reports without an enter.
    :data:`VISIT_OUTCOMES`: how a node visit on a path ended.
"""

from __future__ import annotations

from typing import Final

# -- event kinds (events.kind) ----------------------------------------------------------

START: Final = "start"
NODE_ENTER: Final = "node_enter"
NODE_EXIT: Final = "node_exit"
ERROR: Final = "error"
COMPLETE: Final = "complete"
KINDS: Final = (START, NODE_ENTER, NODE_EXIT, ERROR, COMPLETE)
#: The kinds of a node visit's two ends.
NODE_KINDS: Final = (NODE_ENTER, NODE_EXIT)

# -- event sources (events.source) ------------------------------------------------------

DATA_ACTION: Final = "data_action"
NOTIFICATION: Final = "notification"
EVENTBRIDGE: Final = "eventbridge"
#: flowtrack's own records (timeouts, disconnects): never errors of the flow itself.
FLOWTRACK: Final = "flowtrack"
STATUS_POLL: Final = "status_poll"
#: The flow execution history flowtrack downloaded (receiver.history_pull).
HISTORY: Final = "history"
SOURCES: Final = (DATA_ACTION, NOTIFICATION, EVENTBRIDGE, FLOWTRACK, STATUS_POLL, HISTORY)

# -- source families (storage.visits) ---------------------------------------------------

#: The platform's sources (notification, eventbridge, history) as one family; data_action is
#: the other.
PLATFORM: Final = "platform"
FAMILIES: Final = (DATA_ACTION, PLATFORM)

# -- launch states (launches.state) -----------------------------------------------------

PENDING: Final = "pending"
RUNNING: Final = "running"
COMPLETED: Final = "completed"
FAILED: Final = "failed"
TERMINATED: Final = "terminated"
TIMED_OUT: Final = "timed_out"
LAUNCH_FAILED: Final = "launch_failed"
TERMINATION_FAILED: Final = "termination_failed"
STATES: Final = (
    PENDING,
    RUNNING,
    COMPLETED,
    FAILED,
    TERMINATED,
    TIMED_OUT,
    LAUNCH_FAILED,
    TERMINATION_FAILED,
)
TERMINAL_STATES: Final = frozenset({COMPLETED, FAILED, TERMINATED, TIMED_OUT, LAUNCH_FAILED})
#: States a launch can still leave: its events and stop answers are kept.
UNFINISHED_STATES: Final = tuple(state for state in STATES if state not in TERMINAL_STATES)

# -- nodes and visits (storage.visits) --------------------------------------------------

#: Node types the platform reports as exits only: milestones and flow outcomes.
CHECKPOINT_TYPES: Final = frozenset({"milestone", "outcome"})

EXITED: Final = "exited"
ERRORED: Final = "errored"
OPEN: Final = "open"
MISSING_ENTER: Final = "missing_enter"
MISSING_EXIT: Final = "missing_exit"
VISIT_OUTCOMES: Final = (EXITED, ERRORED, OPEN, MISSING_ENTER, MISSING_EXIT)
