"""The audit trail over the REST API: ``GET /api/v1/audit``, and :func:`audited`, which
the write handlers call to record who (the API key's name) did what to which thing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import Conflict, FlowtrackError, NotFound
from receiver.logs import REQUEST_ID
from receiver.resources import services
from receiver.web.access import identity_of
from receiver.web.models import RequestModel, Timestamp, WireModel, one_of, render
from receiver.web.operations import (
    INVALID_QUERY,
    STORAGE_UNAVAILABLE,
    Reply,
    operation,
    page_of,
    query_params,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from storage.audit import ACTIONS, OUTCOMES, REFUSED, AuditEntry, AuditFilter

#: Longest request id kept (a longer ``X-Request-Id`` is cut).
MAX_REQUEST_ID = 128


class AuditRecord(WireModel):
    """One write done through the API, and who did it."""

    id: int
    at: Timestamp = Field(description="When it was done.")
    key_name: str = Field(
        description="The name of the API key used (`key-` and 8 hex digits for a key "
        "configured without a name; `anonymous` when the API is served without keys); "
        "`flowtrack:register` or `flowtrack:startup` for a registration flowtrack ran."
    )
    action: str = one_of(ACTIONS, "What was done.")
    target: str | None = Field(
        description="What it was done to: a launch id, a data action run id, a webhook "
        "endpoint id (a message id for a resend), a dead letter id; for a registration, the "
        "data action's id."
    )
    request_id: str | None = Field(
        description="The request's `X-Request-Id` (the caller's, or the one flowtrack made)."
    )
    outcome: str = one_of(OUTCOMES, "What came of it.")
    detail: str | None = Field(
        description="Why: the reason given for a termination, the error code of a refusal, "
        "what a registration did to each resource, a run's data action, a webhook "
        "endpoint's URL or what a change changed."
    )

    @classmethod
    def of(cls, row: Any) -> AuditRecord:
        """The record of a stored row."""
        return cls.model_construct(
            id=row["id"],
            at=row["at"],
            key_name=row["key_name"],
            action=row["action"],
            target=row["target"],
            request_id=row["request_id"],
            outcome=row["outcome"],
            detail=row["detail"],
        )


class AuditQuery(RequestModel):
    """The filters of ``GET /api/v1/audit``."""

    action: str | None = one_of(ACTIONS, "Only records of this action.", nullable=True)
    key_name: str | None = Field(None, description="Only records made with this API key.")
    target: str | None = Field(
        None, description="Only records about this thing (a launch id, a run id, an endpoint id)."
    )
    since: datetime | None = Field(None, description="Only records made at or after this time.")
    until: datetime | None = Field(None, description="Only records made before this time.")
    limit: int = 0
    cursor: str | None = None


async def audited(
    request: Request, action: str, target: str | None, outcome: str, detail: str | None = None
) -> None:
    """Record that the caller of ``request`` did ``action`` to ``target``."""
    # The id the response carries (the caller's X-Request-Id, or one made for it).
    request_id = REQUEST_ID.get() or request.headers.get("x-request-id")
    entry = AuditEntry(
        at=datetime.now(UTC),
        key_name=identity_of(request).name,
        action=action,
        target=target,
        outcome=outcome,
        request_id=request_id[:MAX_REQUEST_ID] if request_id else None,
        detail=detail,
    )
    await services(request).audit_store.record(entry)


def origin_of(url: str) -> str:
    """Where ``url`` points (scheme, host, port) without its path and query, which may
    carry a secret (a chat hook's token), so the audit keeps no credential."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@asynccontextmanager
async def refusals_audited(
    request: Request, action: str, target: str | None, *kinds: type[FlowtrackError]
) -> AsyncIterator[None]:
    """Record a refusal (its error code as ``detail``) when the block raises one of ``kinds``
    (by default: not found, in conflict).

    Refusals of what the caller named are recorded (and a URL the address policy
    refuses); a malformed or invalid body is not a write, and is not recorded.
    """
    caught = kinds or (NotFound, Conflict)
    try:
        yield
    except caught as exc:
        await audited(request, action, target, REFUSED, exc.code)
        raise


@operation(
    "listAudit",
    "Writes done through the API, newest first",
    tag="audit",
    access="read",
    description="Every launch and termination asked for through the API, every data action "
    "run and cancellation, every write to a webhook endpoint (create, change, delete, "
    "rotate its secret, test, resend, recover) and every dead letter replay, with the name "
    "of the API key that asked, the request id and what came of it; and every registration "
    "with Genesys.",
    parameters=query_params(AuditQuery),
    replies={200: Reply("A page of audit records.", page_of(AuditRecord))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_audit(request: Request) -> Response:
    """``GET /api/v1/audit``: newest first; filters action, keyName, target, since, until."""
    found = services(request)
    query = Query.of(request.query_params, AuditQuery)
    where = query.filter(AuditFilter)
    limit = query.values.limit
    before = query.scalar_cursor(int)
    query.check()
    rows = await found.audit_store.list(where, before=before, limit=limit + 1)
    return JSONResponse(
        page(rows, limit, lambda row: render(AuditRecord.of(row)), lambda last: last["id"], query)
    )
