"""Liveness and readiness probes."""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from receiver.resources import services
from receiver.telemetry.genesys_check import CHECK_STATES, GenesysCheck
from receiver.web.models import Timestamp, WireModel, one_of, render
from receiver.web.operations import Reply, operation
from receiver.web.responses import JSONResponse
from storage.errors import StorageError


class Alive(WireModel):
    """The process is serving."""

    status: str = one_of(["ok"])


class GenesysAccess(WireModel):
    """What Genesys answered when flowtrack asked for a token at start (never fatal)."""

    state: str = one_of(
        CHECK_STATES,
        "`accepted`; `refused` (check FLOWTRACK_GENESYS_CLIENT_ID and _SECRET); "
        "`unreachable`; `checking`; `not_configured` (no credentials: launching answers 503).",
    )
    detail: str | None = Field(description="What Genesys said, when it was not `accepted`.")
    checked_at: Timestamp | None

    @classmethod
    def of(cls, check: GenesysCheck) -> GenesysAccess:
        """The API's view of the start-up check."""
        return cls.model_construct(
            state=check.state, detail=check.detail, checked_at=check.checked_at
        )


class Ready(WireModel):
    """The database is reachable and migrated."""

    status: str = one_of(["ready"])
    migration: str = Field(description="The schema revision, e.g. `0005`.")
    genesys: GenesysAccess


class NotReady(WireModel):
    """The database is unreachable or not migrated."""

    status: str = one_of(["not_ready"])
    reason: str = Field(description="What is wrong, e.g. `run flowtrack migrate`.")
    genesys: GenesysAccess


@operation(
    "healthz",
    "Liveness: the process is serving",
    tag="health",
    access="public",
    replies={200: Reply("Alive.", Alive)},
)
async def healthz(request: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse(render(Alive.model_construct(status="ok")))


@operation(
    "readyz",
    "Readiness: the database is reachable and migrated",
    tag="health",
    access="public",
    replies={
        200: Reply("Ready.", Ready),
        503: Reply("Not ready: the database is unreachable or not migrated.", NotReady),
    },
)
async def readyz(request: Request) -> Response:
    """The database is reachable and migrated to the revision this code expects; the
    answer also says whether Genesys accepted flowtrack's OAuth client at start."""
    found = services(request)
    genesys = GenesysAccess.of(found.genesys_check)
    try:
        revision = await found.readiness.check()
    except StorageError as exc:
        not_ready = NotReady.model_construct(status="not_ready", reason=str(exc), genesys=genesys)
        return JSONResponse(render(not_ready), status_code=503)
    ready = Ready.model_construct(status="ready", migration=revision, genesys=genesys)
    return JSONResponse(render(ready))
