"""Execution data over HTTP: the setting, the query, download jobs and the downloads.

``GET|PATCH /api/v2/flows/instances/settings/executiondata``, ``POST
/api/v2/flows/instances/query``, ``POST /api/v2/flows/instances/jobs``, ``GET
/api/v2/flows/instances/jobs/{jobId}``, ``GET /api/v2/flows/instances/{instanceId}``
(starts a one-instance job despite the verb), and the pre-signed download
``GET /flow-execution-data/{instanceId}.json`` outside ``/api/v2`` (no token).
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.errors import BadRequest
from sandbox.history_downloads import PATH
from sandbox.history_query import parse_query
from sandbox.state import sandbox_of
from sandbox.wire import JSONResponse, query_int, read_json, read_object

#: "A query returns at most 200 instances" (§5.1); there is no page number.
MAX_RESULTS = 200


def base_url(request: Request) -> str:
    """Where clients reach this sandbox (``public_base_url``, else the request's host)."""
    configured = sandbox_of(request).config.public_base_url
    return (configured or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")


async def get_setting(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).history.setting.to_json())


async def patch_setting(request: Request) -> Response:
    """``{"enabled": bool}``; switching it on does not republish the flows."""
    enabled = (await read_object(request)).get("enabled")
    if not isinstance(enabled, bool):
        raise BadRequest("'enabled' must be a boolean.", code="invalid.value")
    setting = sandbox_of(request).history.change(enabled, request.state.client_id)
    return JSONResponse(setting.to_json())


async def query(request: Request) -> Response:
    """``CriteriaQuery`` → ``FlowResultEntityListing``: at most 200, ``total`` counts all.

    Which 200 is not the newest: results come in instance-id order, as "the query cannot
    guarantee that it returns the most recent 200" (§16.B.3).
    """
    sandbox = sandbox_of(request)
    matches = parse_query(await read_json(request))
    page_size = query_int(request, "pageSize", MAX_RESULTS, low=1, high=MAX_RESULTS)
    found = sorted(
        (i for i in sandbox.history.kept() if matches(i.values())),
        key=lambda i: i.id,
    )
    sandbox.stats.incr("history.queries")
    self_uri = f"{request.url.path}?pageSize={page_size}"
    return JSONResponse(
        {
            "entities": [i.query_json() for i in found[:page_size]],
            "pageSize": page_size,
            "pageNumber": 1,
            "total": len(found),
            "pageCount": max(1, math.ceil(len(found) / page_size)),
            "firstUri": self_uri,
            "lastUri": self_uri,
            "selfUri": self_uri,
        }
    )


async def create_job(request: Request) -> Response:
    """``ExecutionDataRequest {ids}`` → a ``Registered`` job."""
    body = await read_object(request)
    job = sandbox_of(request).history_jobs.create(body.get("ids"))
    return JSONResponse(job.to_json())


async def get_job(request: Request) -> Response:
    jobs = sandbox_of(request).history_jobs
    return JSONResponse(jobs.advance(request.path_params["jobId"], base_url(request)).to_json())


async def instance_job(request: Request) -> Response:
    """``GET /api/v2/flows/instances/{instanceId}``: a job for that one instance."""
    job = sandbox_of(request).history_jobs.create([request.path_params["instanceId"]])
    return JSONResponse(job.to_json())


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>{code}</Code>"
    body += f"<Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


async def download(request: Request) -> Response:
    """``GET /flow-execution-data/{instanceId}.json?…``: the execution-data file."""
    sandbox = sandbox_of(request)
    instance_id = request.path_params["instanceId"]
    if "authorization" in request.headers:
        return _s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
        )
    params = request.query_params
    refusal = sandbox.history.signer.refusal(
        instance_id, params.get("Expires", ""), params.get("Signature", "")
    )
    if refusal is not None:
        return _s3_error(403, "AccessDenied", refusal)
    instance = sandbox.history.find(instance_id)
    if instance is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    sandbox.stats.incr("history.downloads")
    return JSONResponse(instance.record())


_INSTANCES = "/api/v2/flows/instances"
routes = [
    Route(f"{_INSTANCES}/settings/executiondata", get_setting, methods=["GET"]),
    Route(f"{_INSTANCES}/settings/executiondata", patch_setting, methods=["PATCH"]),
    Route(f"{_INSTANCES}/query", query, methods=["POST"]),
    Route(f"{_INSTANCES}/jobs", create_job, methods=["POST"]),
    Route(f"{_INSTANCES}/jobs/{{jobId}}", get_job, methods=["GET"]),
    Route(f"{_INSTANCES}/{{instanceId}}", instance_job, methods=["GET"]),
    Route(PATH, download, methods=["GET"]),
]
