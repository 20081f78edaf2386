"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from receiver.resources import services
from receiver.web.openapi import Reply, obj, operation, string
from receiver.web.responses import JSONResponse
from storage.errors import StorageError
from storage.migrations import check_ready


@operation(
    "healthz",
    "Liveness: the process is serving",
    tag="health",
    access="public",
    replies={200: Reply("Alive.", obj({"status": string(enum=["ok"])}))},
)
async def healthz(request: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


@operation(
    "readyz",
    "Readiness: the database is reachable and migrated",
    tag="health",
    access="public",
    replies={
        200: Reply(
            "Ready.",
            obj(
                {
                    "status": string(enum=["ready"]),
                    "migration": string("The schema revision, e.g. `0004`."),
                }
            ),
        ),
        503: Reply(
            "Not ready: the database is unreachable or not migrated.",
            obj(
                {
                    "status": string(enum=["not_ready"]),
                    "reason": string("What is wrong, e.g. `run flowtrack migrate`."),
                }
            ),
        ),
    },
)
async def readyz(request: Request) -> Response:
    """The database is reachable and migrated to the revision this code expects."""
    found = services(request)
    try:
        revision = await run_in_threadpool(check_ready, found.engine)
    except StorageError as exc:
        return JSONResponse({"status": "not_ready", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready", "migration": revision})
