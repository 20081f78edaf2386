"""``GET /metrics``: every metric in the Prometheus text exposition format.

Access is read unless ``FLOWTRACK_METRICS_PUBLIC=1``: the app routes
:data:`get_metrics` or :data:`get_public_metrics` (one handler, two declarations) as
the setting says (``receiver.routes.metrics_route``), so the declarations stay the one
place access is stated.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from receiver.resources import services
from receiver.web.operations import Reply, operation, string

_DESCRIPTION = (
    "Counters, gauges and histograms for Prometheus (text exposition format): callbacks "
    "by result and refusal reason, events stored, the writer's batches and queue, "
    "launches by state, outcome and duration, the sweep, and the Genesys API calls. "
    "docs/operations.md lists them all."
)
_REPLY = Reply("The metrics.", string("Prometheus text exposition format."), "text/plain")


async def _metrics(request: Request) -> Response:
    metrics = services(request).metrics
    await metrics.refresh()
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


@operation(
    "getMetrics",
    "Metrics for Prometheus",
    tag="health",
    access="read",
    description=_DESCRIPTION + " Needs a read key (Prometheus sends it as a bearer token); "
    "`FLOWTRACK_METRICS_PUBLIC=1` serves it without one.",
    replies={200: _REPLY},
)
async def get_metrics(request: Request) -> Response:
    """The metrics, for a read key."""
    return await _metrics(request)


@operation(
    "getMetrics",
    "Metrics for Prometheus",
    tag="health",
    access="public",
    description=_DESCRIPTION + " Served without a key (`FLOWTRACK_METRICS_PUBLIC=1`).",
    replies={200: _REPLY},
)
async def get_public_metrics(request: Request) -> Response:
    """The metrics, for anyone."""
    return await _metrics(request)
