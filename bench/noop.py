"""The baselines: endpoints that read the body and answer, with no database.

``app`` is a Starlette endpoint, the benchmark's reference. ``bare`` is a bare ASGI app
answering the same bytes: the floor of what one uvicorn worker can do, and the shape of
flowtrack's own callback endpoint (``uvicorn noop:bare --app-dir bench``).
"""

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = b'{"accepted":1,"duplicates":0,"command":"continue"}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))],
}


async def receive(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


app = Starlette(routes=[Route("/webhooks/genesys", receive, methods=["POST"])])


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(START)
    await send({"type": "http.response.body", "body": ANSWER})
