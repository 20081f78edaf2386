"""The webhook delivery log over the REST API: messages, attempts, resending, recovery;
and the catalogue of event types with an example body of each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.audit import audited, refusals_audited
from receiver.api.bodies import MalformedJSON, UnsupportedMediaType, json_body
from receiver.api.webhooks import ENDPOINT_ID, TAG, WebhookEndpointNotFound
from receiver.errors import InvalidRequest, NotFound
from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, one_of, problems_of, render
from receiver.web.models import timestamp as timestamp_text
from receiver.web.operations import (
    INVALID_QUERY,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Failure,
    Param,
    Reply,
    operation,
    page_of,
    query_params,
    string,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from receiver.webhooks import events
from storage import audit
from storage.deliveries import ATTEMPT_RESULTS
from storage.outbox import MESSAGE_STATES


class DeliveryAttempt(WireModel):
    """One POST of a message and what came of it."""

    attempted_at: Timestamp
    result: str = one_of(ATTEMPT_RESULTS, "`delivered` (2xx), `retry` or `failed` (no more).")
    status_code: int | None = Field(description="The receiver's status (null: no answer).")
    latency_ms: int | None
    error: str | None = Field(description="What went wrong: a status, a timeout, a refusal.")
    response_body: str | None = Field(description="The first 4 KiB of the answer.")

    @classmethod
    def of(cls, row: Any) -> DeliveryAttempt:
        return cls.model_construct(**{name: row[name] for name in cls.model_fields})


class Delivery(WireModel):
    """One message to the endpoint, where its delivery stands, and its attempts."""

    message_id: str = Field(description="The `webhook-id` the receiver sees on every attempt.")
    event_type: str
    subject: str | None = Field(description="What it is about: a launch id, a dead letter id.")
    flow_id: str | None
    state: str = one_of(MESSAGE_STATES, "`pending`, `delivered` or `failed` (no more attempts).")
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="When it is attempted next (pending).")
    finished_at: Timestamp | None
    attempts: list[DeliveryAttempt] = Field(description="Every attempt, oldest first.")

    @classmethod
    def of(cls, row: Any, attempts: list[Any]) -> Delivery:
        return cls.model_construct(
            message_id=row["id"],
            event_type=row["event_type"],
            subject=row["subject"],
            flow_id=row["flow_id"],
            state=row["state"],
            created_at=row["created_at"],
            next_attempt_at=row["next_attempt_at"],
            finished_at=row["finished_at"],
            attempts=[DeliveryAttempt.of(each) for each in attempts],
        )


class DeliveryQuery(RequestModel):
    """The filters of ``GET /api/v1/webhook-endpoints/{id}/deliveries``."""

    state: str | None = one_of(MESSAGE_STATES, "Only messages in this state.", nullable=True)
    limit: int = 0
    cursor: str | None = None


@operation(
    "listWebhookDeliveries",
    "The delivery log of a webhook endpoint, newest message first",
    tag=TAG,
    access="read",
    parameters=(ENDPOINT_ID, *query_params(DeliveryQuery)),
    replies={200: Reply("A page of messages with their attempts.", page_of(Delivery))},
    failures=(WebhookEndpointNotFound, INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_deliveries(request: Request) -> Response:
    """``GET /api/v1/webhook-endpoints/{id}/deliveries``."""
    found = services(request).webhooks
    endpoint_id = request.path_params["endpoint_id"]
    query = Query.of(request.query_params, DeliveryQuery, scope=endpoint_id)
    limit = query.values.limit
    before = query.position_cursor(str)
    query.check()
    if await found.store.get_endpoint(endpoint_id) is None:
        raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id}")
    rows, attempts = await found.store.list_messages(
        endpoint_id, state=query.values.state, before=before, limit=limit + 1
    )
    return JSONResponse(
        page(
            rows,
            limit,
            lambda row: render(Delivery.of(row, attempts.get(row["id"], []))),
            lambda last: [timestamp_text(last["created_at"]), last["id"]],
            query,
        )
    )


class SentTest(WireModel):
    """The test message queued for the endpoint."""

    message_id: str = Field(description="Its `webhook-id`; its attempts are in the delivery log.")


@operation(
    "testWebhookEndpoint",
    "Send a test message to a webhook endpoint",
    tag=TAG,
    access="write",
    description="Queues a `webhook.test` message for this endpoint only; it is delivered, "
    "retried and logged like any other.",
    parameters=(ENDPOINT_ID,),
    replies={202: Reply("Queued.", SentTest)},
    failures=(WebhookEndpointNotFound, STORAGE_UNAVAILABLE),
)
async def test_endpoint(request: Request) -> Response:
    """``POST /api/v1/webhook-endpoints/{id}/test``: 202 with the message id."""
    found = services(request).webhooks
    endpoint_id = request.path_params["endpoint_id"]
    data = orjson.dumps({"endpoint_id": endpoint_id, "message": "a test message from flowtrack"})
    testing = audit.WEBHOOK_ENDPOINT_TEST
    async with refusals_audited(request, testing, endpoint_id):
        message_id = await found.store.send_test(endpoint_id, data, datetime.now(UTC))
        if message_id is None:
            raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id}")
    await audited(request, testing, endpoint_id, audit.REQUESTED, message_id)
    found.nudge()
    return JSONResponse(render(SentTest.model_construct(message_id=message_id)), status_code=202)


class WebhookMessageNotFound(NotFound):
    """No webhook message has this id."""

    code = "webhook_message_not_found"


class Resent(WireModel):
    """The message is due again, with the same id, on a fresh retry schedule."""

    message_id: str
    next_attempt_at: Timestamp


@operation(
    "resendWebhookMessage",
    "Send a webhook message again",
    tag=TAG,
    access="write",
    description="Whatever became of it, the message is attempted again now with the same "
    "`webhook-id` (receivers deduplicate on it), on a fresh retry schedule.",
    parameters=(Param("message_id", "path", string(minLength=1), "The message id (`msg_…`)."),),
    replies={202: Reply("Due now.", Resent)},
    failures=(WebhookMessageNotFound, STORAGE_UNAVAILABLE),
)
async def resend_message(request: Request) -> Response:
    """``POST /api/v1/webhook-messages/{id}/resend``: 202."""
    found = services(request).webhooks
    message_id = request.path_params["message_id"]
    resending = audit.WEBHOOK_MESSAGE_RESEND
    async with refusals_audited(request, resending, message_id):
        row = await found.store.resend(message_id, datetime.now(UTC))
        if row is None:
            raise WebhookMessageNotFound(f"no webhook message {message_id}")
    await audited(request, resending, message_id, audit.REQUESTED)
    found.nudge()
    resent = Resent.model_construct(message_id=row["id"], next_attempt_at=row["next_attempt_at"])
    return JSONResponse(render(resent), status_code=202)


class RecoverRequest(RequestModel):
    """Which failed messages to send again."""

    since: datetime = Field(description="Messages created at or after this time.")


class Recovered(WireModel):
    """How many failed messages are due again."""

    recovered: int = Field(ge=0)


class InvalidRecovery(InvalidRequest):
    """The recovery request is invalid; ``detail`` lists each problem."""

    code = "invalid_recovery"


@operation(
    "recoverWebhookEndpoint",
    "Send again every message of an endpoint that failed since a time",
    tag=TAG,
    access="write",
    description="After an outage of the receiver: each failed message created since "
    "`since` is attempted again with its own `webhook-id`, on a fresh retry schedule.",
    parameters=(ENDPOINT_ID,),
    body=RecoverRequest,
    replies={202: Reply("Due now.", Recovered)},
    failures=(
        WebhookEndpointNotFound,
        Failure.of(InvalidRecovery, detail=PROBLEMS),
        MalformedJSON,
        UnsupportedMediaType,
        STORAGE_UNAVAILABLE,
    ),
)
async def recover_endpoint(request: Request) -> Response:
    """``POST /api/v1/webhook-endpoints/{id}/recover`` ``{since}``: 202 with how many."""
    found = services(request).webhooks
    endpoint_id = request.path_params["endpoint_id"]
    decoded = await json_body(request)
    try:
        wanted = RecoverRequest.model_validate(decoded)
    except ValidationError as exc:
        problems = problems_of(exc, RecoverRequest)
        first = problems[0]
        raise InvalidRecovery(f"{first['field']}: {first['problem']}", detail=problems) from None
    since = wanted.since if wanted.since.tzinfo else wanted.since.replace(tzinfo=UTC)
    recovering = audit.WEBHOOK_ENDPOINT_RECOVER
    async with refusals_audited(request, recovering, endpoint_id):
        if await found.store.get_endpoint(endpoint_id) is None:
            raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id}")
    count = await found.store.recover(endpoint_id, since, datetime.now(UTC))
    detail = f"{count} failed since {since.isoformat()}"
    await audited(request, recovering, endpoint_id, audit.REQUESTED, detail)
    if count:
        found.nudge()
    return JSONResponse(render(Recovered.model_construct(recovered=count)), status_code=202)


class EventTypeInfo(WireModel):
    """One event type of the catalogue."""

    type: str
    version: int = Field(description="Its body's version: it only gains fields within one.")
    description: str


class EventTypeCatalogue(WireModel):
    """Every event type an endpoint can receive, and an example body of each."""

    version: str = Field(description="The catalogue's version (the date of its last change).")
    types: list[EventTypeInfo]
    examples: dict[str, events.AnyMessage] = Field(
        description="An example body of each type, by type."
    )


@operation(
    "listWebhookEventTypes",
    "The webhook event types, each with an example body",
    tag=TAG,
    access="read",
    replies={200: Reply("The catalogue.", EventTypeCatalogue)},
    failures=(),
)
async def get_event_types(request: Request) -> Response:
    """``GET /api/v1/webhook-event-types``."""
    catalogue = EventTypeCatalogue.model_construct(
        version=events.CATALOGUE_VERSION,
        types=[
            EventTypeInfo.model_construct(
                type=each.name, version=each.version, description=each.description
            )
            for each in events.CATALOGUE
        ],
        examples={each.name: events.example(each.name) for each in events.CATALOGUE},
    )
    return JSONResponse(render(catalogue))
