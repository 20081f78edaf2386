"""A downloaded execution-data record → canonical events with source ``history``.

The file (genesys-api.md §5.3, §16.B.2) is ``{"flow": {…, "execution": [...]}}``; each
item is a single-key object named by its kind, and may nest more items in its own
``execution`` list (a task's, a common module's). Read depth first, in document order:

- ``startedFlow`` → ``start``; ``endedFlow`` → ``complete`` (``failed`` when an error was
  reported or ``flowExitReason`` names one);
- an item naming a node (``actionId``, ``taskId``, ``stateId``, ``menuId``,
  ``commonModuleId``, ``botId``) → ``node_enter`` at its ``dateTime``, and
  ``node_exit`` at the next item's ``dateTime`` (the last at the flow's end), with its
  ``outputPathId``; its ``errors`` (or ``error``) → ``error`` events;
- items naming no node (``startedFlow``, ``endedTask``, ``eventLoop``, …) are no visit
  but still end the visit before them.

Dedupe keys are those of the pushed ``v2.flows.instances.flow`` message
(receiver.ingest.notifications): ``instance``, the run's execution id, the item's
``executionId`` and the event's part — so what the push delivered is not stored again.
The run's execution id is the record's ``executionId`` when it has one, else the
instance id it was downloaded for (their equality is UNCONFIRMED, §16.E).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from receiver.ingest.canonical import ID_LENGTH, NAME_LENGTH
from receiver.ingest.dedupe import dedupe_key
from storage.records import EventRecord
from storage.vocabulary import HISTORY

#: Keys that name an item's node, most specific first.
_NODE_KEYS = ("actionId", "taskId", "stateId", "menuId", "commonModuleId", "botId")
_NAME_KEYS = ("actionName", "taskName", "stateName", "menuName", "commonModuleName")
#: Kind prefixes dropped to get a node type like the pushed ``objectType``.
_PREFIXES = ("action", "started", "menu")


class UnreadableRecord(ValueError):
    """The downloaded file is not an execution-data record."""


def read_record(
    document: Any,
    *,
    instance_id: str,
    received_at: datetime,
    launch_id: str | None = None,
) -> list[EventRecord]:
    """The events of one downloaded record; raises :class:`UnreadableRecord`."""
    flow = document.get("flow") if isinstance(document, dict) else None
    if not isinstance(flow, dict):
        raise UnreadableRecord("no 'flow' object")
    items = flow.get("execution")
    if not isinstance(items, list):
        raise UnreadableRecord("no 'flow.execution' list")
    execution_id = _text(flow.get("executionId"), ID_LENGTH) or instance_id[:ID_LENGTH]
    conversation_id = _text(flow.get("conversationId"), ID_LENGTH)
    flow_id = _text(flow.get("flowId"), ID_LENGTH)
    flow_version = _text(flow.get("flowVersion"), 64)
    flat = [(kind, body) for kind, body in _flatten(items) if _at(body) is not None]
    ended = _time(flow.get("endDateTime"))

    def event(kind: str, suffix: str, at: datetime, raw: Any, **values: Any) -> EventRecord:
        return EventRecord(
            dedupe_key("instance", execution_id, suffix),
            kind,
            HISTORY,
            at,
            received_at,
            launch_id,
            execution_id,
            conversation_id,
            flow_id,
            flow_version,
            values.get("node_id"),
            values.get("node_type"),
            values.get("node_name"),
            values.get("output_path"),
            values.get("outcome"),
            values.get("error_code"),
            values.get("error_message"),
            orjson.dumps(raw).decode(),
        )

    events: list[EventRecord] = []
    failed = False
    ending: tuple[datetime, dict[str, Any]] | None = None
    for position, (kind, body) in enumerate(flat):
        at = _at(body)
        assert at is not None
        if kind == "startedFlow":
            events.append(event("start", "start", _time(flow.get("startDateTime")) or at, body))
            continue
        if kind == "endedFlow":
            ending = (at, body)
            continue
        node_id = next((_text(body.get(k), NAME_LENGTH) for k in _NODE_KEYS if body.get(k)), None)
        item_id = _text(body.get("executionId"), NAME_LENGTH) or str(position)
        node = {
            "node_id": node_id,
            "node_type": _node_type(kind),
            "node_name": next(
                (_text(body.get(k), NAME_LENGTH) for k in _NAME_KEYS if body.get(k)), None
            ),
        }
        if node_id is not None:
            events.append(event("node_enter", f"{item_id}:enter", at, {kind: body}, **node))
        for error in _errors(body):
            failed = True
            reason = _text(error.get("reason"), NAME_LENGTH)
            error_node = _text(error.get("objectId"), NAME_LENGTH) or node_id
            events.append(
                event(
                    "error",
                    f"{_text(error.get('executionId'), NAME_LENGTH) or item_id}:error",
                    at,
                    error,
                    node_id=error_node,
                    error_code=reason,
                    error_message=f"{reason} at {error_node}" if reason else None,
                )
            )
        following = _at(flat[position + 1][1]) if position + 1 < len(flat) else ended
        if node_id is not None and following is not None:
            output = _text(body.get("outputPathId"), NAME_LENGTH)
            exit_values = {**node, "output_path": output}
            events.append(
                event("node_exit", f"{item_id}:exit", following, {kind: body}, **exit_values)
            )
    end_at = ending[0] if ending else ended
    if end_at is not None:
        reason = _text((ending[1] if ending else flow).get("flowExitReason"), NAME_LENGTH)
        failed = failed or "ERROR" in (reason or "")
        summary = {k: v for k, v in flow.items() if k != "execution"}
        events.append(
            event(
                "complete",
                "complete",
                end_at,
                summary,
                outcome="failed" if failed else "completed",
                error_code=reason if failed else None,
            )
        )
    return events


def _flatten(items: list[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Items depth first in document order: each item, then what it nests."""
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((kind, body),) = item.items()
        if not isinstance(body, dict):
            continue
        yield kind, {k: v for k, v in body.items() if k != "execution"}
        nested = body.get("execution")
        if isinstance(nested, list):
            yield from _flatten(nested)


def _errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = body.get("errors")
    errors = [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []
    single = body.get("error")
    if isinstance(single, dict):
        errors.append(single)
    return errors


def _node_type(kind: str) -> str:
    for prefix in _PREFIXES:
        if kind.startswith(prefix) and len(kind) > len(prefix):
            return kind[len(prefix) :][:NAME_LENGTH]
    return kind[:NAME_LENGTH]


def _at(body: dict[str, Any]) -> datetime | None:
    return _time(body.get("dateTime"))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).replace("\x00", "")
    return text[:limit] or None
