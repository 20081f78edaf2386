"""Finding every run of a flow in a time window, though a query answers at most 200.

``POST /api/v2/flows/instances/query`` has no paging and "cannot guarantee that the
query returns the most recent 200" (§16.B.3): a window whose ``total`` reaches the cap
is halved, and each half asked again, down to one millisecond, the precision of the
query's times (more than 200 runs started within one millisecond are logged as
``history_pull.capped``; some are then not found). A burst of launches puts hundreds of
runs into one second, so a coarser floor would lose them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from receiver.genesys.instances import FlowInstance, FlowInstancesApi

log = logging.getLogger("flowtrack.history_pull")

MIN_WINDOW = timedelta(milliseconds=1)


async def find_runs(
    api: FlowInstancesApi,
    flow_id: str,
    since: datetime,
    until: datetime,
    spend: Callable[[], None] = lambda: None,
) -> list[FlowInstance]:
    """Every run of ``flow_id`` started in ``[since, until)``; ``spend`` is called before
    each query (it raises to stop when the caller's call budget is spent)."""
    spend()
    answer = await api.query(flow_id, since, until)
    if not answer.capped or until - since <= MIN_WINDOW:
        if answer.capped:
            log.warning(
                f"over 200 runs of flow {flow_id} started within one millisecond: "
                "some are not found",
                extra={"action": "history_pull.capped", "flow_id": flow_id},
            )
        return list(answer.instances)
    middle = since + (until - since) / 2
    first = await find_runs(api, flow_id, since, middle, spend)
    return [*first, *await find_runs(api, flow_id, middle, until, spend)]
