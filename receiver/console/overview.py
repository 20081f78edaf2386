"""``/ui/``: what needs a look now.

Launches by state; the launches that need someone (termination kept failing, or
running past their deadline), oldest first; what failed in the last hour, by flow and
reason; the dead letters of the last day. Read through the stores, as the API reads.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from receiver.console.auth import signed_in
from receiver.console.rendering import page
from receiver.resources import services
from storage.launches import LaunchFilter
from storage.vocabulary import (
    FAILED,
    LAUNCH_FAILED,
    TERMINATION_FAILED,
    TIMED_OUT,
)

#: The states a failure in the last hour may be in.
FAILURES = (FAILED, TIMED_OUT, LAUNCH_FAILED, TERMINATION_FAILED)
#: Most launches of each kind the overview reads; beyond, it says "at least".
READ = 500
DEAD_LETTERS_READ = 200


@signed_in()
async def overview(request: Request) -> Response:
    """``GET /ui/``: the overview."""
    found = services(request)
    store = found.launch_store
    now = datetime.now(UTC)
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    wanted = [LaunchFilter(state=state, since=hour_ago) for state in FAILURES]
    # Side by side: each read is its own query on its own connection.
    async with asyncio.TaskGroup() as group:
        counting = group.create_task(store.count_by_state())
        stuck_reading = group.create_task(
            store.list(LaunchFilter(state=TERMINATION_FAILED), limit=READ)
        )
        overdue_reading = group.create_task(store.overdue(now, READ))
        reading = group.create_task(found.event_store.list_dead_letters(limit=DEAD_LETTERS_READ))
        listing = [group.create_task(store.list(f, limit=READ)) for f in wanted]
    by_state, letters = counting.result(), reading.result()
    stuck, overdue = stuck_reading.result(), overdue_reading.result()
    failures = [task.result() for task in listing]
    attention = [*stuck, *overdue]
    attention.sort(key=lambda row: row["created_at"])
    failed = Counter(
        (row["flow_id"], row["state"], row["error_code"] or row["state_reason"] or "—")
        for rows in failures
        for row in rows
    )
    recent_letters = [row for row in letters if row["received_at"] >= day_ago]
    flow_ids = {row["flow_id"] for row in attention} | {flow for flow, _, _ in failed}
    names = await found.flow_names.names(sorted(flow_ids))
    context: dict[str, Any] = {
        "nav": "overview",
        "now": now,
        "by_state": by_state,
        "total": sum(by_state.values()),
        "attention": attention[:50],
        "attention_count": len(attention),
        "attention_capped": len(stuck) == READ or len(overdue) == READ,
        "failures": [
            (flow, state, reason, n) for (flow, state, reason), n in failed.most_common(20)
        ],
        "failure_count": sum(failed.values()),
        "dead_letters": recent_letters[:5],
        "dead_letter_count": len(recent_letters),
        "dead_letters_capped": len(recent_letters) == DEAD_LETTERS_READ,
        "names": names,
    }
    return page(request, "overview.html", context)
