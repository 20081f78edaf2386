"""``/ui/launches/{id}``: one launch — its header, its path as a timeline, its raw events;
and, for write keys, Terminate.

Terminate takes the same steps as ``POST /api/v1/launches/{id}/terminate`` (the
sweeper's ``terminate``), is recorded in the audit under the signed-in key's name, and
comes back to the launch page, which then shows where the termination stands.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from receiver.api.audit import audited
from receiver.api.terminations import MAX_REASON
from receiver.console.auth import signed_in
from receiver.console.rendering import PREFIX, page
from receiver.console.timeline import timeline
from receiver.errors import InvalidRequest
from receiver.launches.service import LaunchNotFound
from receiver.launches.sweep import TerminationRefused
from receiver.resources import services
from storage.audit import LAUNCH, REFUSED, REQUESTED, TERMINATE, AuditFilter
from storage.queries import EventFilter
from storage.vocabulary import TERMINAL_STATES

#: Most steps and raw events a page shows (a normal history is far shorter).
STEPS = 1000
EVENTS = 500


class InvalidReason(InvalidRequest):
    """The termination reason is too long or holds a NUL character."""

    code = "invalid_termination"


@signed_in()
async def launch(request: Request) -> Response:
    """``GET /ui/launches/{launch_id}``: the launch page."""
    found = services(request)
    launch_id = request.path_params["launch_id"]
    (row, path), events, activity, history = await asyncio.gather(
        found.history_store.launch_transitions(launch_id, limit=STEPS),
        found.event_store.list(EventFilter(launch_id=launch_id), limit=EVENTS),
        found.audit_store.list(AuditFilter(target=launch_id), limit=20),
        found.launch_store.history_pull(launch_id),
    )
    if row is None:
        raise LaunchNotFound(f"no launch {launch_id!r}")
    names = await found.flow_names.names([row["flow_id"]])
    now = datetime.now(UTC)
    steps = path.steps if path is not None else []
    launched_by = next((a["key_name"] for a in reversed(activity) if a["action"] == LAUNCH), None)
    context: dict[str, Any] = {
        "nav": "launches",
        "now": now,
        "launch": row,
        "flow_name": names.get(row["flow_id"]),
        "counts": Counter(event["kind"] for event in events),
        "timeline": timeline(steps, now),
        "node_source": path.node_family if path is not None else None,
        "more_steps": path is not None and path.resume is not None,
        "events": events,
        "more_events": len(events) == EVENTS,
        "activity": activity,
        "launched_by": launched_by,
        "history": history,
        "ended": row["state"] in TERMINAL_STATES,
        "terminating": row["termination_reason"] is not None
        and row["state"] not in TERMINAL_STATES,
        "result": request.query_params.get("terminate"),
        "max_reason": MAX_REASON,
        "refresh": None if row["state"] in TERMINAL_STATES else 5,
    }
    return page(request, "launch.html", context)


@signed_in(write=True)
async def terminate(request: Request) -> Response:
    """``POST /ui/launches/{launch_id}/terminate``: end the launch now, with a reason."""
    found = services(request)
    launch_id = request.path_params["launch_id"]
    raw = (await request.form()).get("reason")
    reason = raw.strip() if isinstance(raw, str) and raw.strip() else None
    if reason is not None and (len(reason) > MAX_REASON or "\x00" in reason):
        raise InvalidReason(f"reason: at most {MAX_REASON} characters, no NUL")
    try:
        await found.sweeper.terminate(launch_id, reason)
    except TerminationRefused as exc:
        await audited(request, TERMINATE, launch_id, REFUSED, exc.code)
        raise
    await audited(request, TERMINATE, launch_id, REQUESTED, reason)
    await found.tracker.settled()
    view = await found.launches.describe(launch_id)
    result = "ended" if view.row["state"] in TERMINAL_STATES else "requested"
    target = f"{PREFIX}/launches/{quote(launch_id, safe='')}?terminate={result}"
    return RedirectResponse(target, status_code=303)
