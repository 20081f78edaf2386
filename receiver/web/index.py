"""``GET /``: what this server is and where to go next.

A newcomer's first request: it names the service and its version and links the
documentation, the OpenAPI document, the probes and the API's lists. A browser (one
that asks for HTML) is sent to the web console instead, when it is on.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from pydantic import Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from receiver.web.models import WireModel, render
from receiver.web.operations import Header, Reply, operation
from receiver.web.responses import JSONResponse


class Links(WireModel):
    """Where to go from here (paths on this server)."""

    docs: str = Field(description="The API documentation as a web page.")
    openapi: str = Field(description="The OpenAPI 3.1 document.")
    health: str = Field(description="Liveness probe.")
    ready: str = Field(description="Readiness probe (database and migrations).")
    launches: str
    events: str
    flows: str
    dead_letters: str


class Index(WireModel):
    """This server: its name, version and links."""

    service: str = Field(description="Always `flowtrack`.")
    version: str = Field(description="The installed flowtrack version.")
    links: Links


def installed_version() -> str:
    """The installed package's version (``unknown`` when run from an uninstalled tree)."""
    try:
        return version("flowtrack")
    except PackageNotFoundError:
        return "unknown"


#: Where a browser asking for ``/`` goes.
CONSOLE = "/ui/"

_INDEX = Index(
    service="flowtrack",
    version=installed_version(),
    links=Links(
        docs="/docs",
        openapi="/openapi.json",
        health="/healthz",
        ready="/readyz",
        launches="/api/v1/launches",
        events="/api/v1/events",
        flows="/api/v1/flows",
        dead_letters="/api/v1/dead-letters",
    ),
)


@operation(
    "getIndex",
    "What this server is, and links to its documentation",
    tag="meta",
    access="public",
    replies={
        200: Reply("The service, its version and links.", Index),
        303: Reply(
            "A browser (`Accept: text/html`) is sent to the web console, `/ui/`, unless "
            "`FLOWTRACK_UI=0`.",
            headers={"Location": Header("`/ui/`.", required=True)},
        ),
    },
)
async def get_index(request: Request) -> Response:
    """``GET /``: the service's name, version and links (``/docs``, ``/openapi.json``);
    a browser goes to the console."""
    if "text/html" in request.headers.get("accept", "") and _console_on(request):
        return RedirectResponse(CONSOLE, status_code=303)
    return JSONResponse(render(_INDEX))


def _console_on(request: Request) -> bool:
    on: bool = request.app.state.services.settings.console.enabled
    return on
