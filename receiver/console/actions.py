"""``/ui/actions`` and ``/ui/actions/runs/{id}``: data action runs, with their state and
latency, and one run's input, output and attempts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from receiver.console.auth import signed_in
from receiver.console.launches import InvalidFilter, cursor_of
from receiver.console.rendering import PREFIX, page
from receiver.errors import NotFound
from receiver.resources import services
from receiver.web.models import timestamp
from storage.action_reads import RunFilter
from storage.action_runs import QUEUED, RUN_STATES, RUNNING

PAGE = 50
REFRESH_SECONDS = 5


class RunNotFound(NotFound):
    """No data action run has this id."""

    code = "action_run_not_found"


@signed_in()
async def runs(request: Request) -> Response:
    """``GET /ui/actions``: data action runs, newest first."""
    params = request.query_params
    state = params.get("state") or None
    if state is not None and state not in RUN_STATES:
        raise InvalidFilter(f"state: {state!r} is not a run state ({', '.join(RUN_STATES)})")
    action = (params.get("action") or "").strip() or None
    after = cursor_of(params.get("before"))
    store = services(request).action_runs.store
    rows = await store.list(RunFilter(action_id=action, state=state), after=after, limit=PAGE + 1)
    listed = list(rows[:PAGE])
    kept = {k: v for k, v in (("state", state), ("action", action)) if v}
    following = None
    if len(rows) > PAGE:
        last = listed[-1]
        position = f"{timestamp(last['created_at'])}~{last['id']}"
        following = f"{PREFIX}/actions?" + urlencode({**kept, "before": position})
    live = after is None and any(row["state"] in (QUEUED, RUNNING) for row in listed)
    context: dict[str, Any] = {
        "nav": "actions",
        "rows": listed,
        "states": RUN_STATES,
        "filters": {"state": state or "", "action": action or ""},
        "next": following,
        "first_page": f"{PREFIX}/actions?" + urlencode(kept) if after else None,
        "refresh": REFRESH_SECONDS if live else None,
    }
    return page(request, "actions.html", context)


@signed_in()
async def run(request: Request) -> Response:
    """``GET /ui/actions/runs/{run_id}``: one run — input, output, attempts."""
    run_id = request.path_params["run_id"]
    row = await services(request).action_runs.store.get(run_id)
    if row is None:
        raise RunNotFound(f"no data action run {run_id!r}")
    context: dict[str, Any] = {
        "nav": "actions",
        "run": row,
        "now": datetime.now(UTC),
        "input": pretty(row["input"]),
        "output": pretty(row["output"]),
        "error": pretty(row["error"]),
        "output_problems": _listed(row["output_problems"]),
        "coercions": _listed(row["coercions"]),
        "attempts": _listed(row["attempts"]),
        "steps": pretty(row["steps"]),
        "refresh": REFRESH_SECONDS if row["state"] in (QUEUED, RUNNING) else None,
    }
    return page(request, "action_run.html", context)


def pretty(text: str | None) -> str | None:
    """Stored JSON, indented for reading (as stored when it is not JSON)."""
    if text is None:
        return None
    try:
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return text


def _listed(text: str | None) -> list[Any]:
    if not text:
        return []
    try:
        found = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    return found if isinstance(found, list) else [found]
