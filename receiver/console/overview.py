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
from receiver.resources import Services, services
from storage.launches import LaunchFilter
from storage.vocabulary import (
    FAILED,
    LAUNCH_FAILED,
    RUNNING,
    STATES,
    TERMINATION_FAILED,
    TIMED_OUT,
)

#: The states a failure in the last hour may be in.
FAILURES = (FAILED, TIMED_OUT, LAUNCH_FAILED, TERMINATION_FAILED)
#: Most launches of each kind the overview reads; beyond, it says "at least".
READ = 500
#: Running launches read to find those past their deadline: the newest ones. The sweep
#: ends an overdue launch within seconds, so one stays overdue only while the sweep is
#: behind or Genesys keeps failing (it then shows termination_failed).
RUNNING_READ = 100
DEAD_LETTERS_READ = 200
#: The overview's counts read the flows list this many pages deep.
FLOW_PAGES = 20
FLOWS_PER_PAGE = 100


@signed_in()
async def overview(request: Request) -> Response:
    """``GET /ui/``: the overview."""
    found = services(request)
    now = datetime.now(UTC)
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    wanted = [
        (LaunchFilter(state=TERMINATION_FAILED), READ),
        (LaunchFilter(state=RUNNING), RUNNING_READ),
        *((LaunchFilter(state=state, since=hour_ago), READ) for state in FAILURES),
    ]
    # Side by side: each read is its own query on its own connection.
    async with asyncio.TaskGroup() as group:
        counting = group.create_task(_by_state(found))
        reading = group.create_task(found.event_store.list_dead_letters(limit=DEAD_LETTERS_READ))
        listing = [group.create_task(found.launch_store.list(f, limit=n)) for f, n in wanted]
    (by_state, more_flows), letters = counting.result(), reading.result()
    stuck, running, *failures = [task.result() for task in listing]
    attention = [*stuck, *(row for row in running if _overdue(row, now))]
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
        "more_flows": more_flows,
        "flows_read": FLOW_PAGES * FLOWS_PER_PAGE,
        "attention": attention[:50],
        "attention_count": len(attention),
        "attention_capped": len(stuck) == READ,
        "running_read": RUNNING_READ if len(running) == RUNNING_READ else None,
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


async def _by_state(found: Services) -> tuple[dict[str, int], bool]:
    """Launches by state now, every state named (zero included), in lifecycle order.

    Summed over the flows list's per-flow counts (the statistics' rollups: a read per
    page of flows, whatever the number of launches); True when there were more flows
    than it reads.
    """
    counted: dict[str, int] = dict.fromkeys(STATES, 0)
    after = None
    for _ in range(FLOW_PAGES):
        flows = await found.flow_store.list(after=after, limit=FLOWS_PER_PAGE)
        for flow in flows:
            for state, count in flow.launches_by_state.items():
                counted[state] = counted.get(state, 0) + count
        if len(flows) < FLOWS_PER_PAGE:
            return counted, False
        after = flows[-1].flow_id
    return counted, True


def _overdue(row: Any, now: datetime) -> bool:
    """Running past its deadline or its idle limit (the sweep has not ended it yet)."""
    due = [moment for moment in (row["deadline_at"], row["due_at"]) if moment is not None]
    return bool(due) and min(due) <= now
