"""The events flowtrack itself records in a launch's history.

The sweep records every decision it takes about a launch (a timeout detected, a
disconnect requested, an end confirmed, termination given up) as a ``flowtrack`` event,
and what it read of an execution that had already ended as ``status_poll`` events. Each
has a dedupe key derived from what it records, so recording it again is a no-op.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from receiver.genesys.execution import FlowExecution
from receiver.ingest.dedupe import dedupe_key
from storage.records import EventRecord
from storage.vocabulary import (
    COMPLETE,
    COMPLETED,
    ERROR,
    FAILED,
    FLOWTRACK,
    STATUS_POLL,
    TERMINATED,
)

#: The outcome of a ``complete`` read from an ended execution's status.
_STATUS_OUTCOMES = {"COMPLETED": COMPLETED, "TERMINATED": TERMINATED}


def own_event(
    launch: RowMapping,
    kind: str,
    key: str,
    at: datetime,
    *,
    source: str = FLOWTRACK,
    outcome: str | None = None,
    error_code: str | None = None,
    message: str | None = None,
    conversation: str | None = None,
    raw: Any = None,
) -> EventRecord:
    """An event of ``launch`` identified by ``key``; ``raw`` defaults to the action taken."""
    body = raw if raw is not None else {"action": key.split(":")[-1], "message": message}
    return EventRecord(
        dedupe_key(key),
        kind,
        source,
        at,
        datetime.now(UTC),
        launch["id"],
        launch["flow_execution_id"],
        conversation or launch["conversation_id"],
        launch["flow_id"],
        launch["flow_version"],
        None,
        None,
        None,
        None,
        outcome,
        error_code,
        message,
        orjson.dumps(body).decode(),
    )


def sweep_event(
    launch: RowMapping, kind: str, what: str, now: datetime, **fields: Any
) -> EventRecord:
    """A decision of the sweep about ``launch``; ``what`` names it (once per launch)."""
    return own_event(launch, kind, f"sweep:{launch['id']}:{what}", now, **fields)


def status_events(launch: RowMapping, execution: FlowExecution, now: datetime) -> list[EventRecord]:
    """The platform already ended the flow: that, as genesys-api.md §13 maps it."""
    status = execution.status.value
    at = execution.date_completed or now
    key = f"status:{execution.id}:{status}"
    rows = []
    if execution.status.is_failure:
        error = execution.error
        rows.append(
            own_event(
                launch,
                ERROR,
                key + ":error",
                at,
                source=STATUS_POLL,
                error_code=(error.code if error else None) or status,
                message=(error.message if error else None) or execution.completion_reason,
                conversation=execution.conversation_id,
                raw=execution.raw,
            )
        )
    rows.append(
        own_event(
            launch,
            COMPLETE,
            key,
            at,
            source=STATUS_POLL,
            outcome=_STATUS_OUTCOMES.get(status, FAILED),
            message=execution.completion_reason,
            conversation=execution.conversation_id,
            raw=execution.raw,
        )
    )
    return rows


def detected_code(outcome: str) -> str:
    """The error code of the sweep's record that it is ending a launch with ``outcome``."""
    return "termination_requested" if outcome == TERMINATED else "timeout"


def why_ended(launch: RowMapping, outcome: str, now: datetime, reason: str | None = None) -> str:
    """Why the sweep is ending ``launch``; a termination asked for carries its ``reason``."""
    if outcome == TERMINATED:
        requested = "termination requested through the API"
        return f"{requested}: {reason}" if reason else requested
    deadline = launch["deadline_at"]
    if deadline is not None and deadline <= now:
        return f"deadline {deadline.isoformat()} passed"
    idle = launch["idle_timeout_seconds"]
    return f"no event for {idle} s (idle limit)"
