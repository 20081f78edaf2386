"""Every route of the app: the one table the router and the OpenAPI document read.

Each route is guarded as its handler's operation declares (``receiver.web.access``).
"""

from __future__ import annotations

from starlette.routing import Route

from receiver.api import action_runs, actions, audit, dead_letters, flows, terminations
from receiver.api import events as api
from receiver.api import launches as launches_api
from receiver.api import tracking as tracking_api
from receiver.api import transitions as history
from receiver.api import webhook_deliveries as deliveries
from receiver.api import webhooks as webhooks_api
from receiver.ingest import endpoint as callbacks
from receiver.web import docs, health, index, metrics
from receiver.web.access import route

CALLBACK_PATH = "/webhooks/genesys"

# {name:id}: any text but "/" and NUL (receiver.web.openapi.StoredId).
ROUTES = [
    route("/", index.get_index, "GET"),
    route("/healthz", health.healthz, "GET"),
    route("/readyz", health.readyz, "GET"),
    route("/openapi.json", docs.get_openapi, "GET"),
    route("/docs", docs.get_docs, "GET"),
    route(CALLBACK_PATH, callbacks.receive_callback, "POST"),
    route("/api/v1/events", api.get_events, "GET"),
    route("/api/v1/dead-letters", dead_letters.get_dead_letters, "GET"),
    route("/api/v1/dead-letters/{letter_id:int}/replay", dead_letters.replay_dead_letter, "POST"),
    route("/api/v1/launches", launches_api.post_launch, "POST"),
    route("/api/v1/launches", launches_api.get_launches, "GET"),
    route("/api/v1/launches/{launch_id:id}", launches_api.get_launch, "GET"),
    route("/api/v1/launches/{launch_id:id}/transitions", history.get_launch_transitions, "GET"),
    route(
        "/api/v1/conversations/{conversation_id:id}/transitions",
        history.get_conversation_transitions,
        "GET",
    ),
    route("/api/v1/flows", flows.get_flows, "GET"),
    route("/api/v1/flows/{flow_id:id}/stats", flows.get_flow_stats, "GET"),
    route("/api/v1/launches/{launch_id:id}/terminate", terminations.terminate_launch, "POST"),
    route("/api/v1/audit", audit.get_audit, "GET"),
    route("/api/v1/webhook-endpoints", webhooks_api.post_endpoint, "POST"),
    route("/api/v1/webhook-endpoints", webhooks_api.get_endpoints, "GET"),
    route("/api/v1/webhook-endpoints/{endpoint_id:id}", webhooks_api.get_endpoint, "GET"),
    route("/api/v1/webhook-endpoints/{endpoint_id:id}", webhooks_api.patch_endpoint, "PATCH"),
    route("/api/v1/webhook-endpoints/{endpoint_id:id}", webhooks_api.delete_endpoint, "DELETE"),
    route(
        "/api/v1/webhook-endpoints/{endpoint_id:id}/rotate-secret",
        webhooks_api.rotate_secret,
        "POST",
    ),
    route("/api/v1/webhook-endpoints/{endpoint_id:id}/test", deliveries.test_endpoint, "POST"),
    route(
        "/api/v1/webhook-endpoints/{endpoint_id:id}/deliveries", deliveries.get_deliveries, "GET"
    ),
    route(
        "/api/v1/webhook-endpoints/{endpoint_id:id}/recover", deliveries.recover_endpoint, "POST"
    ),
    route("/api/v1/webhook-messages/{message_id:id}/resend", deliveries.resend_message, "POST"),
    route("/api/v1/webhook-event-types", deliveries.get_event_types, "GET"),
    route("/api/v1/tracking", tracking_api.get_tracking, "GET"),
    route("/api/v1/actions", actions.get_actions, "GET"),
    route("/api/v1/actions/{action_id:id}", actions.get_action, "GET"),
    route("/api/v1/actions/{action_id:id}/runs", actions.post_run, "POST"),
    route("/api/v1/actions/{action_id:id}/stats", actions.get_stats, "GET"),
    route("/api/v1/action-runs", action_runs.get_runs, "GET"),
    route("/api/v1/action-runs/{run_id:id}", action_runs.get_run, "GET"),
    route("/api/v1/action-runs/{run_id:id}/cancel", action_runs.cancel_run, "POST"),
]


def metrics_route(public: bool) -> Route:
    """``GET /metrics``, declared public when ``FLOWTRACK_METRICS_PUBLIC=1``, else read."""
    return route("/metrics", metrics.get_public_metrics if public else metrics.get_metrics, "GET")
