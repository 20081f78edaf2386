"""``/api/v2/notifications/channels`` and the WebSocket behind each ``connectUri`` (§7).

The socket carries ``{topicName, version, eventBody, metadata}`` frames for subscribed
topics, a ``channel.metadata`` heartbeat every ``heartbeat_seconds``, and answers the
text frame ``{"message": "ping"}`` with a ``channel.metadata`` ``pong``. It is closed
when its channel expires, is evicted or loses its token, when a newer socket takes the
channel over, and at the end of a ``socket_closing`` grace.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from sandbox import channel_topics
from sandbox.channel_topics import topic_json
from sandbox.errors import BadRequest, SandboxError
from sandbox.history_api import base_url
from sandbox.messages import channel_metadata_frame
from sandbox.notifications import ABORT, CLOSE, Channel, NotificationHub, Session
from sandbox.state import sandbox_of
from sandbox.timestamps import utc_now
from sandbox.wire import JSONResponse, query_bool, query_list, read_json


def _ws_base_url(request: Request) -> str:
    base = (
        sandbox_of(request).config.public_base_url or f"{request.url.scheme}://{request.url.netloc}"
    )
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://").rstrip("/")
    return "ws://" + base.removeprefix("http://").rstrip("/")


async def create_channel(request: Request) -> Response:
    """``POST /api/v2/notifications/channels`` → ``Channel``."""
    sandbox = sandbox_of(request)
    channel = sandbox.hub.create(request.state.client_id, request.state.token)
    # Pushed messages link to downloads on the host the subscriber reaches.
    sandbox.history.base_url = base_url(request)
    return JSONResponse(channel.to_json(_ws_base_url(request)))


async def list_channels(request: Request) -> Response:
    """``GET /api/v2/notifications/channels?includechannels=token|oauthclient``."""
    hub = sandbox_of(request).hub
    include = request.query_params.get("includechannels", "token")
    channels = hub.listing(request.state.client_id, request.state.token, include)
    base = _ws_base_url(request)
    return JSONResponse({"entities": [c.to_json(base) for c in channels]})


async def available_topics(request: Request) -> Response:
    """``GET /api/v2/notifications/availabletopics?expand=…`` → the topics it can publish."""
    expand = set(query_list(request, "expand"))
    return JSONResponse({"entities": channel_topics.available_topics(expand)})


async def head_channel(request: Request) -> Response:
    """``HEAD …/{channelId}``: 200 if the channel exists and is valid, else 404."""
    sandbox_of(request).hub.get(request.path_params["channelId"])
    return Response(status_code=200)


async def get_subscriptions(request: Request) -> Response:
    channel = sandbox_of(request).hub.get(request.path_params["channelId"])
    return JSONResponse({"entities": [topic_json(t) for t in channel.topics]})


async def _topics(request: Request) -> list[str]:
    body = await read_json(request)
    if not isinstance(body, list):
        raise BadRequest('The body must be a list of topics ({"id": ...}).', code="invalid.value")
    topics = []
    for item in body:
        topic = item.get("id") if isinstance(item, dict) else item
        if not isinstance(topic, str) or not topic:
            raise BadRequest("Every topic needs an 'id'.", code="invalid.value")
        topics.append(topic)
    return topics


async def _subscribe(request: Request, *, replace: bool) -> Response:
    hub = sandbox_of(request).hub
    channel = hub.get(request.path_params["channelId"])
    entities = hub.subscribe(
        channel,
        await _topics(request),
        replace=replace,
        ignore_errors=query_bool(request, "ignoreErrors"),
    )
    return JSONResponse({"entities": entities})


async def add_subscriptions(request: Request) -> Response:
    """``POST …/subscriptions``: add topics → ``ChannelTopicEntityListing``."""
    return await _subscribe(request, replace=False)


async def replace_subscriptions(request: Request) -> Response:
    """``PUT …/subscriptions``: replace the topic list → ``ChannelTopicEntityListing``."""
    return await _subscribe(request, replace=True)


async def delete_subscriptions(request: Request) -> Response:
    channel = sandbox_of(request).hub.get(request.path_params["channelId"])
    channel.set_topics({})
    return Response(status_code=204)


async def channel_socket(websocket: WebSocket) -> None:
    """The WebSocket at ``connectUri``; the channel id is the only credential (§7.2)."""
    sandbox = sandbox_of(websocket)
    channel_id = websocket.path_params["channelId"]
    try:
        channel = sandbox.hub.get(channel_id)
    except SandboxError:
        await websocket.close(code=1008)  # before accept: the handshake is refused (403)
        return
    await websocket.accept()
    session = sandbox.hub.attach(channel)
    sandbox.stats.incr("notifications.sockets_connected")
    tasks = [
        asyncio.create_task(_read(websocket, session)),
        asyncio.create_task(_write(websocket, session)),
        asyncio.create_task(_beat(session, sandbox.config.heartbeat_seconds)),
        asyncio.create_task(_watch(sandbox.hub, channel, session)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sandbox.hub.detach(channel_id, session)
        if websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(code=1001)


async def _read(websocket: WebSocket, session: Session) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text") or message.get("bytes") or b""
        try:
            data: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("message") == "ping":
            session.send(channel_metadata_frame("pong"))


async def _write(websocket: WebSocket, session: Session) -> None:
    while True:
        kind, text = await session.outbox.get()
        if kind == CLOSE:
            await websocket.close(code=1000, reason=text)
            return
        if kind == ABORT:
            _cut(websocket)
            return
        await websocket.send_text(text)


async def _beat(session: Session, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        session.send(channel_metadata_frame("WebSocket Heartbeat"))


async def _watch(hub: NotificationHub, channel: Channel, session: Session) -> None:
    """Close the socket once its channel expires or its token dies (checked each second)."""
    while not session.kicked:
        if not hub.alive(channel):
            hub.expire(channel.id)
            return
        remaining = (channel.expires - utc_now()).total_seconds()
        await asyncio.sleep(min(max(remaining, 0.01), 1.0))


def _cut(websocket: WebSocket) -> None:
    """Drop the TCP connection without a close frame (an abrupt network failure).

    ASGI has no such verb, so this finds the server protocol's transport behind the
    ``send`` callable Starlette was given; failing that, the socket is closed with 1011.
    """
    transport = _transport_behind(websocket._send, depth=4)
    if transport is not None:
        transport.abort()
    else:
        asyncio.get_running_loop().create_task(websocket.close(code=1011))


def _transport_behind(send: Any, depth: int) -> Any:
    owner = getattr(send, "__self__", None)
    if owner is not None and hasattr(owner, "transport"):
        return owner.transport
    if depth == 0:
        return None
    for cell in getattr(send, "__closure__", None) or ():
        with contextlib.suppress(ValueError):
            found = _transport_behind(cell.cell_contents, depth - 1)
            if found is not None:
                return found
    return None


_ONE = "/api/v2/notifications/channels/{channelId}"
routes = [
    Route("/api/v2/notifications/channels", create_channel, methods=["POST"]),
    Route("/api/v2/notifications/channels", list_channels, methods=["GET"]),
    Route("/api/v2/notifications/availabletopics", available_topics, methods=["GET"]),
    Route(_ONE, head_channel, methods=["HEAD"]),
    Route(f"{_ONE}/subscriptions", get_subscriptions, methods=["GET"]),
    Route(f"{_ONE}/subscriptions", add_subscriptions, methods=["POST"]),
    Route(f"{_ONE}/subscriptions", replace_subscriptions, methods=["PUT"]),
    Route(f"{_ONE}/subscriptions", delete_subscriptions, methods=["DELETE"]),
    WebSocketRoute("/channels/{channelId}", channel_socket),
]
