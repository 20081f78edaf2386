"""Ending a launch over the REST API: ``POST /api/v1/launches/{id}/terminate``."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.audit import audited
from receiver.api.bodies import MalformedJSON, UnsupportedMediaType, json_body
from receiver.api.launches import LAUNCH_FAILURES, LAUNCH_ID, LaunchDetail, detail_json
from receiver.errors import InvalidRequest
from receiver.launches.sweep import TerminationRefused, UnknownLaunch
from receiver.resources import services
from receiver.web.models import RequestModel, problems_of
from receiver.web.operations import PROBLEMS, Failure, Reply, operation
from receiver.web.responses import JSONResponse
from storage.audit import REFUSED, REQUESTED, TERMINATE
from storage.vocabulary import TERMINAL_STATES

#: Longest reason kept with a termination.
MAX_REASON = 500


class TerminateRequest(RequestModel):
    """Why the launch is ended (optional)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "customer hung up"}]})

    reason: str | None = Field(
        None,
        description="Kept in the launch's history and the audit.",
        max_length=MAX_REASON,
        pattern=r"^[^\x00]*$",
    )


class InvalidTermination(InvalidRequest):
    """The termination request's body is not a JSON object with an optional `reason`."""

    code = "invalid_termination"


@operation(
    "terminateLaunch",
    "End a launch now",
    tag="launches",
    access="write",
    description="Ends it the way the sweep ends a stuck launch, with outcome `terminated`. "
    "Calling it again is harmless. A conversation launch shows `terminated` once the next "
    "sweep confirms the disconnect: until then the answer is 202. The optional `reason` is "
    "kept in the launch's history and in the audit.",
    parameters=(LAUNCH_ID,),
    body=TerminateRequest,
    body_required=False,
    replies={
        200: Reply("The launch has ended.", LaunchDetail),
        202: Reply(
            "The termination is under way (the disconnect is not confirmed yet).", LaunchDetail
        ),
    },
    failures=(
        *LAUNCH_FAILURES,
        Failure.of(UnknownLaunch),
        TerminationRefused,
        Failure.of(InvalidTermination, detail=PROBLEMS),
        MalformedJSON,
        UnsupportedMediaType,
    ),
)
async def terminate_launch(request: Request) -> Response:
    """``POST /api/v1/launches/{id}/terminate``: end it now, the way the sweep would."""
    found = services(request)
    launch_id = request.path_params["launch_id"]
    reason = _termination_reason(await json_body(request, optional=True))
    try:
        await found.sweeper.terminate(launch_id, reason)
    except TerminationRefused as exc:
        await audited(request, TERMINATE, launch_id, REFUSED, exc.code)
        raise
    await audited(request, TERMINATE, launch_id, REQUESTED, reason)
    await found.tracker.settled()
    view = await found.launches.describe(launch_id)
    ended = view.row["state"] in TERMINAL_STATES
    return JSONResponse(detail_json(view), status_code=200 if ended else 202)


def _termination_reason(decoded: Any) -> str | None:
    if decoded is None:
        return None
    try:
        return TerminateRequest.model_validate(decoded).reason or None
    except ValidationError as exc:
        problems = problems_of(exc, TerminateRequest)
        first = problems[0]
        raise InvalidTermination(f"{first['field']}: {first['problem']}", detail=problems) from None
