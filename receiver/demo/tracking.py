"""The demo's flow without data action steps (#18): followed by push and pull alone.

Its flow file says ``data_action_steps: false``: the sandbox runs it without calling
flowtrack at any node, as a flow nobody edited for flowtrack. flowtrack follows it
through its own notification channel (the flow's ``v2.flows.instances.flow`` topic) and
the execution history it downloads; the demo prints its transition history with the
source of each step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

ADDRESS_CHECK = "d3000000-0000-4000-8000-000000000005"

FLOW: dict[str, Any] = {
    "id": ADDRESS_CHECK,
    "name": "Address check",
    "type": "workflow",
    "data_action_steps": False,
    "nodes": [
        {
            "id": "read-address",
            "type": "Task",
            "name": "Read address",
            "duration_ms": 400,
            "next": "validate",
        },
        {
            "id": "validate",
            "type": "Decision",
            "name": "Validate",
            "duration_ms": 300,
            "next": "store",
        },
        {"id": "store", "type": "UpdateData", "name": "Store result", "duration_ms": 300},
    ],
}

#: (flow, how many, launch options, what should happen), as in the demo's plan.
PLAN_ENTRY: tuple[str, int, dict[str, Any], str] = (
    ADDRESS_CHECK,
    1,
    {},
    "no data action steps; followed by notifications and execution history",
)

#: flowtrack's settings for it: the bridge (this flow's topic from the start) and the pull.
SETTINGS: dict[str, str] = {
    "FLOWTRACK_NOTIFICATIONS": "1",
    "FLOWTRACK_NOTIFICATION_FLOWS": ADDRESS_CHECK,
    "FLOWTRACK_HISTORY_PULL": "1",
    "FLOWTRACK_HISTORY_PULL_INTERVAL": "2",
}


async def show(
    api: httpx.AsyncClient,
    launches: list[dict[str, Any]],
    say: Callable[[str], None],
    describe: Callable[[dict[str, Any]], str],
) -> None:
    """Print the tracked launch's transition history, with where its nodes came from."""
    launch = next((item for item in launches if item["flowId"] == ADDRESS_CHECK), None)
    if launch is None:
        return
    page = await api.get(f"/api/v1/launches/{launch['id']}/transitions")
    if page.status_code != 200:
        return
    body = page.json()
    say("")
    say(
        f"Transition history of a flow with no data action steps ({launch['id']}), "
        f"node source: {body.get('nodeSource')}:"
    )
    say(f"  {'at':12} {'step':10} {'node':22} {'duration':>9}  {'source':12} outcome")
    for item in body.get("items", []):
        say("  " + describe(item))
    state = (await api.get("/api/v1/tracking")).json()
    channels = state["notifications"]["channels"]
    pulled = state["historyPull"]["launches"].get("pulled", 0)
    say(
        f"  tracking: {len(channels)} notification channel(s), "
        f"{len(state['notifications']['topics'])} topic(s), {len(state['gaps'])} gap(s), "
        f"{pulled} history download(s)"
    )
