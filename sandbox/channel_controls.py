"""Test controls for notification channels (``/sandbox/…``, no auth, never faulted).

``GET  /sandbox/channels``                            every channel, its topics and sockets
``POST /sandbox/channels/{id}/socket-closing``        push ``v2.system.socket_closing``
``POST /sandbox/channels/{id}/drop``                  cut the sockets (no close frame)
``POST /sandbox/channels/{id}/silence``               ``{"silent": bool}``: nothing flows
``POST /sandbox/channels/{id}/expire``                the channel expires now
``GET|PUT /sandbox/permissions/{clientId}``           a client's granted permissions

``{id}`` may be ``all``: every channel.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.errors import BadRequest
from sandbox.notifications import Channel, NotificationHub
from sandbox.state import sandbox_of
from sandbox.timestamps import iso
from sandbox.wire import JSONResponse, read_object


def _targets(hub: NotificationHub, channel_id: str) -> list[Channel]:
    if channel_id == "all":
        hub.purge()
        return list(hub.channels.values())
    return [hub.get(channel_id)]


def _channel_json(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "clientId": channel.client_id,
        "expires": iso(channel.expires),
        "topics": sorted(channel.topics),
        "sockets": [
            {"connectedAt": iso(s.connected_at), "silent": s.silent} for s in channel.sessions
        ],
    }


async def list_channels(request: Request) -> Response:
    hub = sandbox_of(request).hub
    hub.purge()
    return JSONResponse({"entities": [_channel_json(c) for c in hub.channels.values()]})


async def socket_closing(request: Request) -> Response:
    """Warn the sockets; a new socket may join for the grace, then the warned ones close."""
    hub = sandbox_of(request).hub
    sockets = sum(hub.announce_closing(c) for c in _targets(hub, request.path_params["id"]))
    return JSONResponse({"sent": sockets > 0, "sockets": sockets})


async def drop(request: Request) -> Response:
    """An abrupt network failure: the TCP connections go without a close frame."""
    hub = sandbox_of(request).hub
    sockets = 0
    for channel in _targets(hub, request.path_params["id"]):
        for session in channel.sessions:
            session.abort()
            sockets += 1
        channel.sessions = []
    sandbox_of(request).stats.incr("notifications.sockets_dropped", sockets)
    return JSONResponse({"dropped": sockets})


async def silence(request: Request) -> Response:
    """``{"silent": true}``: sockets stay open but carry nothing (no beats, no pongs)."""
    hub = sandbox_of(request).hub
    body = await read_object(request)
    silent = body.get("silent", True)
    if not isinstance(silent, bool):
        raise BadRequest("'silent' must be a boolean.")
    sockets = 0
    for channel in _targets(hub, request.path_params["id"]):
        for session in channel.sessions:
            session.silent = silent
            sockets += 1
    return JSONResponse({"silent": silent, "sockets": sockets})


async def expire(request: Request) -> Response:
    hub = sandbox_of(request).hub
    channels = _targets(hub, request.path_params["id"])
    for channel in channels:
        hub.expire(channel.id)
    return JSONResponse({"expired": len(channels)})


async def get_permissions(request: Request) -> Response:
    client_id = request.path_params["clientId"]
    granted = sandbox_of(request).hub.permissions.of(client_id)
    return JSONResponse({"clientId": client_id, "permissions": sorted(granted)})


async def put_permissions(request: Request) -> Response:
    """``{"permissions": [...]}`` sets them; ``{"permissions": null}`` grants all again."""
    client_id = request.path_params["clientId"]
    permissions = (await read_object(request)).get("permissions")
    if permissions is not None and (
        not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions)
    ):
        raise BadRequest("'permissions' must be a list of strings or null.")
    granted = sandbox_of(request).hub.permissions.grant(client_id, permissions)
    return JSONResponse({"clientId": client_id, "permissions": sorted(granted)})


_ONE = "/sandbox/channels/{id}"
routes = [
    Route("/sandbox/channels", list_channels, methods=["GET"]),
    Route(f"{_ONE}/socket-closing", socket_closing, methods=["POST"]),
    Route(f"{_ONE}/drop", drop, methods=["POST"]),
    Route(f"{_ONE}/silence", silence, methods=["POST"]),
    Route(f"{_ONE}/expire", expire, methods=["POST"]),
    Route("/sandbox/permissions/{clientId}", get_permissions, methods=["GET"]),
    Route("/sandbox/permissions/{clientId}", put_permissions, methods=["PUT"]),
]
