"""The baseline: a Starlette endpoint that reads the body and answers, with no database."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = b'{"accepted":1,"duplicates":0,"command":"continue"}'


async def receive(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


app = Starlette(routes=[Route("/webhooks/genesys", receive, methods=["POST"])])
