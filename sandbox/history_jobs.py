"""Download jobs for execution data (``/api/v2/flows/instances/jobs``, genesys-api.md §5.3).

A job is ``Registered`` when created and moves one step each time it is read: the first
``GET`` sees it ``Running``, the next ones ``Success`` with one ``ExecutionDataEntity``
per requested id — a pre-signed ``downloadUri`` for a logged instance, ``failed: true``
with ``statusCode: "404"`` for an id that is not one. Jobs are kept until a reset.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import BadRequest, NotFound
from sandbox.history import HistoryLog

STATES = ("Registered", "Running", "Success")


@dataclass
class Job:
    id: str
    ids: tuple[str, ...]
    step: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> str:
        return STATES[self.step]

    def to_json(self) -> dict[str, Any]:
        """``GetFlowExecutionDataJobResult``; ``entities`` only on ``Success``."""
        document: dict[str, Any] = {
            "id": self.id,
            "name": f"Execution data for {len(self.ids)} instance(s)",
            "jobState": self.state,
            "selfUri": f"/api/v2/flows/instances/jobs/{self.id}",
        }
        if self.state == "Success":
            document["entities"] = self.entities
        return document


class JobRegistry:
    """Every download job of this sandbox."""

    def __init__(self, history: HistoryLog) -> None:
        self._history = history
        self._jobs: dict[str, Job] = {}

    def create(self, ids: Any) -> Job:
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise BadRequest("'ids' must be a non-empty list of instance ids.")
        job = Job(str(uuid.uuid4()), tuple(ids))
        self._jobs[job.id] = job
        return job

    def advance(self, job_id: str, base_url: str) -> Job:
        """Read a job: it moves one step towards ``Success``."""
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"Job {job_id} was not found.")
        if job.step < len(STATES) - 1:
            job.step += 1
            if job.state == "Success":
                job.entities = [self._entity(i, base_url) for i in job.ids]
        return job

    def _entity(self, instance_id: str, base_url: str) -> dict[str, Any]:
        """``ExecutionDataEntity``."""
        if self._history.find(instance_id) is None:
            return {"id": instance_id, "failed": True, "statusCode": "404"}
        uri = self._history.signer.uri(base_url, instance_id)
        return {"id": instance_id, "downloadUri": uri, "failed": False}

    def clear(self) -> None:
        self._jobs.clear()
