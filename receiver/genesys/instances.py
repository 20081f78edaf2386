"""Flow execution history: the org's setting, finding instances, download jobs (§5, §16.B).

Calls: ``apis/architect_api.py`` — ``get_flows_instances_settings_executiondata``,
``post_flows_instances_query``, ``post_flows_instances_jobs``,
``get_flows_instances_job``. A finished job's ``downloadUri`` is a pre-signed link
outside the Platform API: it is fetched without an Authorization header (the link is
the credential; a second auth mechanism is refused) and without the API's rate limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson

from receiver.genesys import wire
from receiver.genesys.errors import GenesysBadResponse, error_from_transport
from receiver.genesys.session import ApiSession, segment
from receiver.genesys.wire import JSONObject

#: "A query returns at most 200 instances" and there is no page number (§16.B.1).
QUERY_CAP = 200
_INSTANCES = "/api/v2/flows/instances"


@dataclass(frozen=True, slots=True)
class FlowInstance:
    """``FlowExecutionDataQueryResult``: one run found by a query."""

    id: str
    flow_id: str | None
    conversation_id: str | None
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_wire(cls, data: JSONObject) -> FlowInstance:
        return cls(
            id=wire.required_text(data, "id"),
            flow_id=wire.text(data, "flowId"),
            conversation_id=wire.text(data, "conversationId"),
            start=wire.timestamp(data, "startDateTime"),
            end=wire.timestamp(data, "endDateTime"),
        )


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    """The instances a query matched (at most :data:`QUERY_CAP`) and how many there are."""

    instances: tuple[FlowInstance, ...]
    total: int

    @property
    def capped(self) -> bool:
        """The answer is cut: more instances matched than it lists."""
        return self.total > len(self.instances) or self.total >= QUERY_CAP


@dataclass(frozen=True, slots=True)
class Download:
    """``ExecutionDataEntity``: one instance's file, or why it failed."""

    id: str
    download_uri: str | None
    failed: bool
    status_code: str | None


@dataclass(frozen=True, slots=True)
class DataJob:
    """``GetFlowExecutionDataJobResult``: ``Registered`` → ``Running`` → ``Success``/``Failed``."""

    id: str
    state: str
    downloads: tuple[Download, ...]

    @property
    def done(self) -> bool:
        return self.state in ("Success", "Failed")

    @classmethod
    def from_wire(cls, data: JSONObject) -> DataJob:
        return cls(
            id=wire.required_text(data, "id"),
            state=wire.text(data, "jobState") or "Registered",
            downloads=tuple(
                Download(
                    id=wire.required_text(entity, "id"),
                    download_uri=wire.text(entity, "downloadUri"),
                    failed=bool(wire.boolean(entity, "failed")),
                    status_code=wire.text(entity, "statusCode"),
                )
                for entity in wire.mappings(data, "entities")
            ),
        )


class FlowInstancesApi:
    """``/api/v2/flows/instances``: execution history of flow runs."""

    def __init__(self, session: ApiSession, http: httpx.AsyncClient) -> None:
        self._session = session
        self._http = http

    async def execution_data_enabled(self) -> bool:
        """Whether the org stores execution data (``enabled``); never changed by flowtrack."""
        path = f"{_INSTANCES}/settings/executiondata"
        return await self._session.fetch("GET", path, _enabled)

    async def query(self, flow_id: str, since: datetime, until: datetime) -> InstanceQuery:
        """Runs of ``flow_id`` started in ``[since, until)`` (at most 200 of them)."""
        body = {
            "query": [
                {"criteria": {"key": "FlowId", "operator": "eq", "value": flow_id}},
                {
                    "and": [
                        {"key": "FlowStartDateTime", "operator": "gte", "value": _iso(since)},
                        {"key": "FlowStartDateTime", "operator": "lt", "value": _iso(until)},
                    ]
                },
            ]
        }
        # A search changes nothing: as safe to repeat as a GET.
        return await self._session.fetch(
            "POST",
            f"{_INSTANCES}/query",
            _query_result,
            params={"pageSize": QUERY_CAP},
            body=body,
            retry_safe=True,
        )

    async def start_job(self, instance_ids: Sequence[str]) -> DataJob:
        """Prepare the download of ``instance_ids`` (``post_flows_instances_jobs``)."""
        return await self._session.fetch(
            "POST",
            f"{_INSTANCES}/jobs",
            DataJob.from_wire,
            body={"ids": list(instance_ids)},
            # A second job for the same ids is harmless: it prepares the same files.
            retry_safe=True,
        )

    async def job(self, job_id: str) -> DataJob:
        """Where a job stands (``get_flows_instances_job``)."""
        return await self._session.fetch(
            "GET", f"{_INSTANCES}/jobs/{segment(job_id)}", DataJob.from_wire
        )

    async def download(self, uri: str) -> Any:
        """The JSON file at a pre-signed ``uri``: no Authorization header, no API budget."""
        try:
            response = await self._http.get(uri, timeout=60)
        except httpx.RequestError as exc:
            raise error_from_transport(exc, method="GET", path="(execution data download)") from exc
        if response.status_code != 200:
            raise GenesysBadResponse(
                f"execution data download answered {response.status_code}: {response.text[:200]}",
                http_status=response.status_code,
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise GenesysBadResponse(
                f"execution data download is not JSON: {exc}", http_status=200
            ) from exc


def _enabled(data: JSONObject) -> bool:
    return bool(wire.boolean(data, "enabled"))


def _query_result(data: JSONObject) -> InstanceQuery:
    instances = tuple(FlowInstance.from_wire(e) for e in wire.mappings(data, "entities"))
    return InstanceQuery(instances, wire.integer(data, "total") or len(instances))


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
