"""The webhook outbox: messages written in the transaction of the change that causes them.

A launch reaching an end state, a flow reporting an error, a dead letter being kept, a
data action run finishing: each caller hands the facts to :func:`enqueue` (or, on the
event writer's own DB-API connection, :class:`WriterOutbox`) inside its own
transaction, so a rollback sends nothing and a crash after the commit loses nothing.
One ``webhook_messages`` row is written per enabled endpoint that subscribes to the
type (and, when it names flows, to the flow); with no such endpoint nothing is written.

``data`` is a snapshot of the facts with storage's column names; the receiver's event
type models (``receiver.webhooks.events``) turn it into the body the receiver sees.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, insert, select

from storage.columns import sqlite_datetime
from storage.records import DeadLetterRecord, EventRecord
from storage.tables import Launch
from storage.tables.webhooks import WebhookEndpoint, WebhookMessage
from storage.vocabulary import (
    COMPLETED,
    ERROR,
    FAILED,
    FLOWTRACK,
    LAUNCH_FAILED,
    TERMINATED,
    TERMINATION_FAILED,
    TIMED_OUT,
)

endpoints = WebhookEndpoint.__table__  # type: ignore[attr-defined]
messages = WebhookMessage.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]

# -- event types (webhook_messages.event_type) -------------------------------------------

LAUNCH_COMPLETED: Final = "launch.completed"
LAUNCH_FAILED_TYPE: Final = "launch.failed"
LAUNCH_TIMED_OUT: Final = "launch.timed_out"
LAUNCH_TERMINATED: Final = "launch.terminated"
LAUNCH_LAUNCH_FAILED: Final = "launch.launch_failed"
LAUNCH_TERMINATION_FAILED: Final = "launch.termination_failed"
FLOW_ERROR: Final = "flow.error"
ACTION_RUN_SUCCEEDED: Final = "action_run.succeeded"
ACTION_RUN_FAILED: Final = "action_run.failed"
DEAD_LETTER_STORED: Final = "dead_letter.stored"
#: Sent only by ``POST /api/v1/webhook-endpoints/{id}/test``, to that endpoint.
WEBHOOK_TEST: Final = "webhook.test"
#: The types an endpoint can subscribe to.
EVENT_TYPES: Final = (
    LAUNCH_COMPLETED,
    LAUNCH_FAILED_TYPE,
    LAUNCH_TIMED_OUT,
    LAUNCH_TERMINATED,
    LAUNCH_LAUNCH_FAILED,
    LAUNCH_TERMINATION_FAILED,
    FLOW_ERROR,
    ACTION_RUN_SUCCEEDED,
    ACTION_RUN_FAILED,
    DEAD_LETTER_STORED,
)
#: The message type of each state a launch can end in.
LAUNCH_ENDED: Final = {
    COMPLETED: LAUNCH_COMPLETED,
    FAILED: LAUNCH_FAILED_TYPE,
    TIMED_OUT: LAUNCH_TIMED_OUT,
    TERMINATED: LAUNCH_TERMINATED,
    LAUNCH_FAILED: LAUNCH_LAUNCH_FAILED,
    TERMINATION_FAILED: LAUNCH_TERMINATION_FAILED,
}

# -- delivery states (webhook_messages.state) --------------------------------------------

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
UNDELIVERABLE: Final = "failed"
MESSAGE_STATES: Final = (PENDING, DELIVERED, UNDELIVERABLE)

#: Longest text kept from a reason or error message: bodies stay small.
MAX_TEXT: Final = 2000
#: The launch columns a launch.* message carries.
LAUNCH_FACTS: Final = (
    "id",
    "flow_id",
    "flow_version",
    "name",
    "state",
    "state_reason",
    "error_code",
    "flow_execution_id",
    "conversation_id",
    "current_node_id",
    "current_node_name",
    "created_at",
    "ended_at",
)
#: The event columns a flow.error message carries.
ERROR_FACTS: Final = (
    "source",
    "occurred_at",
    "launch_id",
    "flow_execution_id",
    "conversation_id",
    "flow_id",
    "flow_version",
    "node_id",
    "node_type",
    "node_name",
    "error_code",
    "error_message",
)

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_message_id() -> str:
    """``msg_`` and 26 characters: 48 bits of milliseconds, 80 random bits (ULID-like).

    Time-ordered, so the delivery log pages by id; within one millisecond a process's
    ids still follow each other (the random part counts up), so the order they were made
    in is the order they sort in. Random, so ids reveal no counts.
    """
    global _last
    with _lock:
        millis, random = int(time.time() * 1000), int.from_bytes(os.urandom(10), "big")
        if millis <= _last[0]:
            millis, random = _last[0], _last[1] + 1
        _last = (millis, random)
    value = (millis << 80) | (random & _RANDOM_BITS)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "msg_" + "".join(reversed(chars))


_lock = threading.Lock()
_last = (0, 0)
_RANDOM_BITS = (1 << 80) - 1


def subscribes(
    event_types: str, flow_ids: str | None, event_type: str, flow_id: str | None
) -> bool:
    """Whether an endpoint (its stored JSON arrays) wants a message of this type and flow."""
    if event_type not in orjson.loads(event_types):
        return False
    return flow_ids is None or flow_id in orjson.loads(flow_ids)


def _clip(value: Any) -> Any:
    return value[:MAX_TEXT] if isinstance(value, str) and len(value) > MAX_TEXT else value


def facts(row: Mapping[Any, Any], columns: Iterable[str]) -> bytes:
    """The snapshot of ``columns`` of a row, as JSON (long texts clipped)."""
    return orjson.dumps({column: _clip(row[column]) for column in columns})


def _message(
    endpoint_id: str,
    event_type: str,
    data: bytes,
    *,
    flow_id: str | None,
    subject: str | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": new_message_id(),
        "endpoint_id": endpoint_id,
        "event_type": event_type,
        "flow_id": flow_id,
        "subject": subject,
        "data": data.decode(),
        "created_at": now,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
    }


def _subscribers(connection: Connection) -> list[Any]:
    """The enabled endpoints: (id, event types, flow ids)."""
    query = select(endpoints.c.id, endpoints.c.event_types, endpoints.c.flow_ids)
    return list(connection.execute(query.where(endpoints.c.enabled.is_(True))).all())


def enqueue(
    connection: Connection,
    event_type: str,
    data: bytes,
    *,
    flow_id: str | None,
    subject: str | None,
    now: datetime,
    endpoint_id: str | None = None,
) -> list[str]:
    """In the caller's transaction: one message per subscribed endpoint; their ids.

    ``endpoint_id`` sends to that endpoint only, subscribed or not (a test ping).
    """
    if endpoint_id is None:
        found = _subscribers(connection)
        targets = [row[0] for row in found if subscribes(row[1], row[2], event_type, flow_id)]
    else:
        targets = [endpoint_id]
    if not targets:
        return []
    rows = [
        _message(target, event_type, data, flow_id=flow_id, subject=subject, now=now)
        for target in targets
    ]
    connection.execute(insert(messages), rows)
    return [row["id"] for row in rows]


def launch_ended(connection: Connection, launch: Mapping[Any, Any], now: datetime) -> None:
    """The launch (its row as it now is) reached an end state: tell who subscribes."""
    event_type = LAUNCH_ENDED.get(launch["state"])
    if event_type is not None:
        enqueue(
            connection,
            event_type,
            facts(launch, LAUNCH_FACTS),
            flow_id=launch["flow_id"],
            subject=launch["id"],
            now=now,
        )


def launches_ended(connection: Connection, launch_ids: Sequence[str], now: datetime) -> None:
    """These launches just reached an end state: their messages, with one read of the
    endpoints and one of the launches for them all (the tracker ends many at once)."""
    if not launch_ids:
        return
    found = _subscribers(connection)
    if not found:
        return
    ended = connection.execute(select(launches).where(launches.c.id.in_(list(launch_ids))))
    rows = []
    for launch in ended.mappings():
        event_type = LAUNCH_ENDED.get(launch["state"])
        if event_type is None:
            continue
        data = facts(launch, LAUNCH_FACTS)
        for endpoint_id, event_types, flow_ids in found:
            if subscribes(event_types, flow_ids, event_type, launch["flow_id"]):
                rows.append(
                    _message(
                        endpoint_id,
                        event_type,
                        data,
                        flow_id=launch["flow_id"],
                        subject=launch["id"],
                        now=now,
                    )
                )
    if rows:
        connection.execute(insert(messages), rows)


#: The final states of a data action run that send ``action_run.failed`` (a cancelled
#: run was stopped on request before it ran: it sends nothing).
RUN_FAILED_STATES: Final = ("failed", "timed_out", "unknown")


def action_run_ended(connection: Connection, run: Mapping[Any, Any] | None, now: datetime) -> None:
    """A data action run (its row as it now is) reached its final state."""
    if run is None:
        return
    if run["state"] == "succeeded":
        event_type = ACTION_RUN_SUCCEEDED
    elif run["state"] in RUN_FAILED_STATES:
        event_type = ACTION_RUN_FAILED
    else:
        return
    error = run["error"]
    # The error is JSON: kept whole or, over the cap, left out (the run API has it).
    parsed = orjson.loads(error) if error and len(error) <= MAX_TEXT else None
    data = {
        "run_id": run["id"],
        "action_id": run["action_id"],
        "action_version": run["action_version"],
        "state": run["state"],
        "failure_reason": run["failure_reason"],
        "error": parsed,
        "dry_run": bool(run["dry_run"]),
        "finished_at": run["finished_at"],
    }
    enqueue(connection, event_type, orjson.dumps(data), flow_id=None, subject=run["id"], now=now)


class WriterOutbox:
    """The outbox on the event writer's own DB-API connection (flow errors, dead letters).

    :meth:`wanted` is the only cost a batch without flow errors or dead letters pays;
    a batch with some reads the enabled endpoints and adds their messages inside the
    batch's transaction (the dialects open one for it).
    """

    def __init__(self, *, sqlite: bool) -> None:
        self._sqlite = sqlite
        mark = "?" if sqlite else "%s"
        columns: tuple[str, ...] = ("id", "endpoint_id", "event_type", "flow_id", "subject")
        columns += ("data", "created_at", "state", "attempts", "next_attempt_at")
        self._insert = (
            f"INSERT INTO webhook_messages ({','.join(columns)}) "  # noqa: S608
            f"VALUES ({','.join([mark] * len(columns))})"
        )

    @staticmethod
    def wanted(rows: Sequence[EventRecord], dead_letters: Sequence[DeadLetterRecord]) -> bool:
        """Whether this batch may cause messages: a flow's own error, or a dead letter."""
        if dead_letters:
            return True
        return any(row[1] == ERROR and row[2] != FLOWTRACK for row in rows)

    def add(
        self,
        cursor: Any,
        errors: Iterable[EventRecord],
        dead_letters: Iterable[tuple[int, DeadLetterRecord]],
        now: datetime,
    ) -> int:
        """Messages for the flow errors just stored and the dead letters (with their ids)."""
        cursor.execute("SELECT id, event_types, flow_ids FROM webhook_endpoints WHERE enabled")
        found = cursor.fetchall()
        if not found:
            return 0
        wanted: list[tuple[str, bytes, str | None, str | None]] = []
        for event in errors:
            snapshot = facts(event._asdict(), ERROR_FACTS)
            wanted.append((FLOW_ERROR, snapshot, event.flow_id, event.launch_id))
        for letter_id, letter in dead_letters:
            snapshot = facts({"id": letter_id, **letter._asdict()}, _DEAD_LETTER_FACTS)
            wanted.append((DEAD_LETTER_STORED, snapshot, None, str(letter_id)))
        at: Any = sqlite_datetime(now) if self._sqlite else now
        params = []
        for event_type, snapshot, flow_id, subject in wanted:
            for endpoint_id, event_types, flow_ids in found:
                if subscribes(event_types, flow_ids, event_type, flow_id):
                    row = (new_message_id(), endpoint_id, event_type, flow_id, subject)
                    params.append((*row, snapshot.decode(), at, PENDING, 0, at))
        if params:
            cursor.executemany(self._insert, params)
        return len(params)


_DEAD_LETTER_FACTS: Final = ("id", "received_at", "reason", "webhook_id")
