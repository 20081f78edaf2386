"""Flow executions: the state behind ``GET /api/v2/flows/executions/{id}``."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.errors import NotFound
from sandbox.flows import FlowDefinition
from sandbox.timestamps import iso, utc_now
from sandbox.wire import drop_none

#: ``FlowRuntimeExecution.status`` values (SDK enum); everything but RUNNING/UNKNOWN is final.
TERMINAL_STATUSES = frozenset({"COMPLETED", "ERROR", "FAILED", "TERMINATED"})


@dataclass
class Execution:
    """One run of a flow, from launch to its final status."""

    id: str
    name: str
    flow: FlowDefinition
    input_data: dict[str, Any]
    launch_id: str | None
    launched_at: datetime = field(default_factory=utc_now)
    status: str = "RUNNING"
    completed_at: datetime | None = None
    completion_reason: str | None = None
    error_info: dict[str, Any] | None = None
    conversation_id: str | None = None
    #: What the run did, node by node (``GET /sandbox/executions/{id}``).
    trail: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def finish(self, status: str, reason: str, error: dict[str, Any] | None = None) -> None:
        self.status = status
        self.completed_at = utc_now()
        self.completion_reason = reason
        self.error_info = error

    def to_json(self, version: dict[str, Any]) -> dict[str, Any]:
        """``FlowRuntimeExecution``; ``outputData`` only once completed, as documented."""
        conversation = None
        if self.conversation_id:
            conversation = {
                "id": self.conversation_id,
                "selfUri": f"/api/v2/conversations/{self.conversation_id}",
            }
        return drop_none(
            {
                "id": self.id,
                "name": self.name,
                "flowVersion": version,
                "dateLaunched": iso(self.launched_at),
                "status": self.status,
                "dateCompleted": iso(self.completed_at) if self.completed_at else None,
                "completionReason": self.completion_reason,
                "flowErrorInfo": self.error_info,
                "outputData": dict(self.flow.output_data) if self.status == "COMPLETED" else None,
                "conversation": conversation,
                "selfUri": f"/api/v2/flows/executions/{self.id}",
            }
        )


class ExecutionRegistry:
    """Every execution this sandbox started (kept for its lifetime, or until a reset)."""

    def __init__(self) -> None:
        self._executions: dict[str, Execution] = {}

    def create(
        self, flow: FlowDefinition, name: str, input_data: dict[str, Any], launch_id: str | None
    ) -> Execution:
        execution = Execution(str(uuid.uuid4()), name, flow, input_data, launch_id)
        self._executions[execution.id] = execution
        return execution

    def get(self, execution_id: str) -> Execution:
        execution = self._executions.get(execution_id)
        if execution is None:
            raise NotFound(f"Flow execution {execution_id} was not found.")
        return execution

    def count_by_status(self) -> dict[str, int]:
        return dict(Counter(e.status for e in self._executions.values()))

    def clear(self) -> None:
        self._executions.clear()
