"""Flow executions: the launch answer and the polled status (genesys-api.md §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from receiver.genesys import wire
from receiver.genesys.wire import JSONObject


class ExecutionStatus(StrEnum):
    """``FlowRuntimeExecution.status``. Values Genesys may add later read as ``UNKNOWN``."""

    UNKNOWN = "UNKNOWN"
    RUNNING = "RUNNING"
    ERROR = "ERROR"
    TERMINATED = "TERMINATED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @classmethod
    def parse(cls, value: str | None) -> ExecutionStatus:
        if value is None:
            return cls.UNKNOWN
        try:
            return cls(value.upper())
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """Whether the execution has ended; ``UNKNOWN`` is not, so it is polled again."""
        return self in (self.COMPLETED, self.ERROR, self.FAILED, self.TERMINATED)

    @property
    def is_failure(self) -> bool:
        """``ERROR`` and ``FAILED`` both end on an error (their difference is undocumented)."""
        return self in (self.ERROR, self.FAILED)


@dataclass(frozen=True, slots=True)
class LaunchedExecution:
    """``FlowExecutionLaunchResponse``: the id to poll, the name, the launched version."""

    id: str
    name: str | None
    flow_version: str | None
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSONObject) -> LaunchedExecution:
        return cls(
            id=wire.required_text(data, "id"),
            name=wire.text(data, "name"),
            flow_version=wire.ref_id(data, "flowVersion"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class FlowErrorInfo:
    """``FlowRuntimeExecution.flowErrorInfo`` (an ``ErrorBody``)."""

    code: str | None
    message: str | None
    status: int | None

    @classmethod
    def from_wire(cls, data: JSONObject) -> FlowErrorInfo | None:
        if not data:
            return None
        return cls(
            code=wire.text(data, "code"),
            message=wire.text(data, "message"),
            status=wire.integer(data, "status"),
        )


@dataclass(frozen=True, slots=True)
class FlowExecution:
    """``FlowRuntimeExecution``: where a launched execution stands.

    ``output_data`` is only supplied for completed flows; ``conversation_id`` only when
    the execution belongs to a conversation (a plain workflow has none).
    """

    id: str
    status: ExecutionStatus
    name: str | None = None
    flow_version: str | None = None
    date_launched: datetime | None = None
    date_completed: datetime | None = None
    completion_reason: str | None = None
    error: FlowErrorInfo | None = None
    output_data: JSONObject | None = None
    conversation_id: str | None = None
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSONObject) -> FlowExecution:
        output = data.get("outputData")
        return cls(
            id=wire.required_text(data, "id"),
            status=ExecutionStatus.parse(wire.text(data, "status")),
            name=wire.text(data, "name"),
            flow_version=wire.ref_id(data, "flowVersion"),
            date_launched=wire.timestamp(data, "dateLaunched"),
            date_completed=wire.timestamp(data, "dateCompleted"),
            completion_reason=wire.text(data, "completionReason"),
            error=FlowErrorInfo.from_wire(wire.mapping(data, "flowErrorInfo")),
            output_data=output if isinstance(output, dict) else None,
            conversation_id=wire.ref_id(data, "conversation"),
            raw=data,
        )
