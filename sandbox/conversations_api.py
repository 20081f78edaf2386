"""``/api/v2/conversations/{id}``: read, disconnect (202, asynchronous), delete (§4)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.state import sandbox_of
from sandbox.wire import JSONResponse


async def get_conversation(request: Request) -> Response:
    """``GET /api/v2/conversations/{conversationId}`` → ``Conversation``."""
    conversation = sandbox_of(request).conversations.get(request.path_params["conversationId"])
    return JSONResponse(conversation.to_json())


async def disconnect_conversation(request: Request) -> Response:
    """``POST …/disconnect`` → 202 with a JSON string; ``endTime`` follows shortly after."""
    sandbox = sandbox_of(request)
    conversation = sandbox.conversations.get(request.path_params["conversationId"])
    sandbox.stats.incr_conversation("conversations.disconnect_calls", conversation.id)
    sandbox.engine.request_teardown(conversation)
    return JSONResponse("Accepted", status_code=202)


async def delete_conversation(request: Request) -> Response:
    """``DELETE /api/v2/conversations/{conversationId}``: disconnect every participant (204)."""
    sandbox = sandbox_of(request)
    conversation = sandbox.conversations.get(request.path_params["conversationId"])
    sandbox.stats.incr_conversation("conversations.delete_calls", conversation.id)
    sandbox.engine.request_teardown(conversation)
    return Response(status_code=204)


routes = [
    Route("/api/v2/conversations/{conversationId}", get_conversation, methods=["GET"]),
    Route("/api/v2/conversations/{conversationId}", delete_conversation, methods=["DELETE"]),
    Route(
        "/api/v2/conversations/{conversationId}/disconnect",
        disconnect_conversation,
        methods=["POST"],
    ),
]
