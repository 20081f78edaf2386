"""``/ui/launches``: launches newest first, filtered, searched and paged.

A search for an id goes straight to what it names: a launch id to the launch, an
execution id to its launch, a conversation id to the conversation. Any other text
lists the launches whose name starts with it (with the other filters, paged like any
list). Each is an index probe (storage.launch_reads). While a running or pending
launch is on the first page, the page refreshes itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from receiver.console.auth import signed_in
from receiver.console.rendering import PREFIX, page
from receiver.errors import BadRequest
from receiver.fields import parse_timestamp
from receiver.resources import Services, services
from receiver.web.models import timestamp
from storage.launches import LaunchFilter
from storage.queries import EventFilter
from storage.vocabulary import PENDING, RUNNING, STATES

PAGE = 50
REFRESH_SECONDS = 5


class InvalidFilter(BadRequest):
    """A filter of the launches page is not a value it can use."""

    code = "invalid_filter"


@signed_in()
async def launches(request: Request) -> Response:
    """``GET /ui/launches``: the launches page."""
    found = services(request)
    params = request.query_params
    where = _filter(params)
    search = (params.get("q") or "").strip()
    if search:
        target = await _find(found, search)
        if target is not None:
            return RedirectResponse(target, status_code=303)
        where = replace(where, name_prefix=search)
    after = cursor_of(params.get("before"))
    rows = await found.launch_store.list(where, after=after, limit=PAGE + 1)
    listed = list(rows[:PAGE])
    following = _next_link(params, listed[-1]) if len(rows) > PAGE else None
    live = not params.get("before") and any(row["state"] in (RUNNING, PENDING) for row in listed)
    names = await found.flow_names.names(sorted({row["flow_id"] for row in listed}))
    context: dict[str, Any] = {
        "nav": "launches",
        "now": datetime.now(UTC),
        "rows": listed,
        "names": names,
        "states": STATES,
        "filters": {
            "state": where.state or "",
            "flow": where.flow_id or "",
            "since": _field(where.since),
            "until": _field(where.until),
            "q": search,
        },
        "searched": search,
        "next": following,
        "first_page": f"{PREFIX}/launches?" + urlencode(_kept(params))
        if params.get("before")
        else None,
        "refresh": REFRESH_SECONDS if live else None,
    }
    return page(request, "launches.html", context)


def _filter(params: Any) -> LaunchFilter:
    state = params.get("state") or None
    if state is not None and state not in STATES:
        raise InvalidFilter(f"state: {state!r} is not a launch state ({', '.join(STATES)})")
    flow = (params.get("flow") or "").strip() or None
    since, until = _moment(params, "since"), _moment(params, "until")
    if since is not None and until is not None and until <= since:
        raise InvalidFilter("until: must be later than since")
    return LaunchFilter(state=state, flow_id=flow, since=since, until=until)


def _moment(params: Any, name: str) -> datetime | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    moment = parse_timestamp(raw)  # a datetime-local field's value is read as UTC
    if moment is None:
        raise InvalidFilter(f"{name}: {raw!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)")
    return moment


def _field(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M") if moment is not None else ""


def cursor_of(raw: str | None) -> tuple[datetime, str] | None:
    """A list's position (``<createdAt>~<id>`` of the last row shown), or None: the first."""
    if not raw:
        return None
    at, _, launch_id = raw.partition("~")
    moment = parse_timestamp(at)
    if moment is None or not launch_id:
        raise InvalidFilter("before: not a position this page made; start from the first page")
    return moment, launch_id


def _kept(params: Any) -> dict[str, str]:
    return {k: params[k] for k in ("state", "flow", "since", "until", "q") if params.get(k)}


def _next_link(params: Any, last: Any) -> str:
    position = f"{timestamp(last['created_at'])}~{last['id']}"
    return f"{PREFIX}/launches?" + urlencode({**_kept(params), "before": position})


async def _find(found: Services, text: str) -> str | None:
    """Where an id leads: its launch, the launch of its execution, or its conversation."""
    # The lookups at once: each is one index probe. A conversation flowtrack did not
    # launch is still found by its events.
    store = found.launch_store
    launch, by_execution, by_conversation, conversation_events = await asyncio.gather(
        store.get(text),
        store.list(LaunchFilter(flow_execution_id=text), limit=1),
        store.list(LaunchFilter(conversation_id=text), limit=1),
        found.event_store.list(EventFilter(conversation_id=text), limit=1),
    )
    if launch is not None:
        return f"{PREFIX}/launches/{quote(text, safe='')}"
    if by_execution:
        return f"{PREFIX}/launches/{quote(by_execution[0]['id'], safe='')}"
    if by_conversation or conversation_events:
        return f"{PREFIX}/conversations/{quote(text, safe='')}"
    return None
