"""``/ui/dead-letters``: callback bodies flowtrack could not read, newest first, each with
its reason, its field problems and the body as received."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from receiver.console.auth import signed_in
from receiver.console.launches import InvalidFilter
from receiver.console.rendering import PREFIX, page
from receiver.resources import services

PAGE = 25
#: Longest body shown in full; the API has the rest.
BODY_CHARS = 4000


@signed_in()
async def dead_letters(request: Request) -> Response:
    """``GET /ui/dead-letters``: a page of dead letters."""
    raw = request.query_params.get("before")
    if raw is not None and not raw.isdigit():
        raise InvalidFilter("before: not a position this page made; start from the first page")
    before = int(raw) if raw else None
    rows = await services(request).event_store.list_dead_letters(before=before, limit=PAGE + 1)
    letters = [_letter(row) for row in rows[:PAGE]]
    following = f"{PREFIX}/dead-letters?before={rows[PAGE - 1]['id']}" if len(rows) > PAGE else None
    context = {"nav": "dead_letters", "letters": letters, "next": following, "paged": bool(before)}
    return page(request, "dead_letters.html", context)


def _letter(row: Any) -> dict[str, Any]:
    try:
        problems = orjson.loads(row["errors"])
    except orjson.JSONDecodeError:
        problems = []
    try:
        body = orjson.dumps(orjson.loads(row["body"]), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        body = row["body"]
    cut = len(body) > BODY_CHARS
    return {
        "id": row["id"],
        "received_at": row["received_at"],
        "reason": row["reason"],
        "webhook_id": row["webhook_id"],
        "problems": problems if isinstance(problems, list) else [],
        "body": body[:BODY_CHARS] + ("\n…" if cut else ""),
        "cut": cut,
    }
