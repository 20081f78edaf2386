"""Plain rows handed to the bulk writer: tuples in column order, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class EventRecord(NamedTuple):
    """One canonical event, in the column order of the ``events`` table."""

    dedupe_key: bytes
    kind: str
    source: str
    occurred_at: datetime
    received_at: datetime
    launch_id: str | None
    flow_execution_id: str | None
    conversation_id: str | None
    flow_id: str | None
    flow_version: str | None
    node_id: str | None
    node_type: str | None
    node_name: str | None
    output_path: str | None
    outcome: str | None
    error_code: str | None
    error_message: str | None
    raw: str


class DeadLetterRecord(NamedTuple):
    """A body that could not be interpreted, with why (``errors`` is a JSON array)."""

    received_at: datetime
    reason: str
    errors: str
    webhook_id: str | None
    body: str


EVENT_COLUMNS: tuple[str, ...] = EventRecord._fields
DEAD_LETTER_COLUMNS: tuple[str, ...] = DeadLetterRecord._fields


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one submission did: events newly stored, and events already stored."""

    accepted: int
    duplicates: int
