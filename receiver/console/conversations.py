"""``/ui/conversations/{id}``: the timeline of a conversation, launched by flowtrack or not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from receiver.api.transitions import ConversationNotFound
from receiver.console.auth import signed_in
from receiver.console.launch import EVENTS, STEPS
from receiver.console.rendering import page
from receiver.console.timeline import timeline
from receiver.resources import services
from storage.queries import EventFilter


@signed_in()
async def conversation(request: Request) -> Response:
    """``GET /ui/conversations/{conversation_id}``: its path and raw events."""
    found = services(request)
    conversation_id = request.path_params["conversation_id"]
    path, events = await asyncio.gather(
        found.history_store.transitions("conversation_id", conversation_id, limit=STEPS),
        found.event_store.list(EventFilter(conversation_id=conversation_id), limit=EVENTS),
    )
    if path is None:
        raise ConversationNotFound(f"no events of conversation {conversation_id!r} are stored")
    now = datetime.now(UTC)
    launch_ids = sorted({row["launch_id"] for row in events if row["launch_id"]})
    flow_ids = sorted({row["flow_id"] for row in events if row["flow_id"]})
    context: dict[str, Any] = {
        "nav": "launches",
        "now": now,
        "conversation_id": conversation_id,
        "timeline": timeline(path.steps, now),
        "node_source": path.node_family,
        "more_steps": path.resume is not None,
        "events": events,
        "more_events": len(events) == EVENTS,
        "launch_ids": launch_ids,
        "flow_ids": flow_ids,
        "names": await found.flow_names.names(flow_ids),
    }
    return page(request, "conversation.html", context)
