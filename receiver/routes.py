"""Every route of the app: the one table the router and the OpenAPI document read."""

from __future__ import annotations

from starlette.routing import Route

from receiver.api import events as api
from receiver.api import flows
from receiver.api import launches as launches_api
from receiver.api import transitions as history
from receiver.ingest import endpoint as callbacks
from receiver.web import docs, health

CALLBACK_PATH = "/webhooks/genesys"

# {name:id}: any text but "/" and NUL (receiver.web.openapi.StoredId).
ROUTES = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/openapi.json", docs.get_openapi, methods=["GET"]),
    Route("/docs", docs.get_docs, methods=["GET"]),
    Route(CALLBACK_PATH, callbacks.receive_callback, methods=["POST"]),
    Route("/api/v1/events", api.get_events, methods=["GET"]),
    Route("/api/v1/dead-letters", api.get_dead_letters, methods=["GET"]),
    Route("/api/v1/launches", launches_api.post_launch, methods=["POST"]),
    Route("/api/v1/launches", launches_api.get_launches, methods=["GET"]),
    Route("/api/v1/launches/{launch_id:id}", launches_api.get_launch, methods=["GET"]),
    Route(
        "/api/v1/launches/{launch_id:id}/transitions",
        history.get_launch_transitions,
        methods=["GET"],
    ),
    Route(
        "/api/v1/conversations/{conversation_id:id}/transitions",
        history.get_conversation_transitions,
        methods=["GET"],
    ),
    Route("/api/v1/flows", flows.get_flows, methods=["GET"]),
    Route("/api/v1/flows/{flow_id:id}/stats", flows.get_flow_stats, methods=["GET"]),
    Route(
        "/api/v1/launches/{launch_id:id}/terminate",
        launches_api.terminate_launch,
        methods=["POST"],
    ),
]
