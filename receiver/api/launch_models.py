"""The launch resource's wire shapes: a launch as lists show it, one launch with its
events' summary and where its execution history stands, what to launch, the list's
filters."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from receiver.api.events import Event
from receiver.launches.service import LaunchOrder
from receiver.web.models import RequestModel, Timestamp, WireModel, one_of, raw_json
from storage.vocabulary import KINDS, STATES

MAX_TIMEOUT_SECONDS = 30 * 24 * 3600
_Seconds = Annotated[StrictInt, Field(ge=1, le=MAX_TIMEOUT_SECONDS)]
_NoNul = r"^[^\x00]*$"
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class CurrentNode(WireModel):
    """The node of the latest node event."""

    id: str
    name: str | None


class Launch(WireModel):
    """A launch, as lists show it."""

    id: str = Field(description="The launch id (flowtrack's).")
    flow_id: str
    flow_version: str | None = Field(description="The version launched (null: the published one).")
    name: str | None
    state: str = one_of(
        STATES,
        "`pending` → `running` → `completed` | `failed` | `terminated` | `timed_out`; "
        "`launch_failed` when the platform refused it; `termination_failed` when ending "
        "it kept failing.",
    )
    state_reason: str | None = Field(description="Why it is in this state.")
    error_code: str | None
    flow_execution_id: str | None = Field(description="The platform's execution id, once launched.")
    conversation_id: str | None = Field(description="The conversation it runs in, once known.")
    current_node: CurrentNode | None
    input_data: Annotated[Any, raw_json("The flow's input variables (null: none).", nullable=True)]
    timeout_seconds: int | None = Field(ge=1, le=MAX_TIMEOUT_SECONDS)
    idle_timeout_seconds: int | None = Field(ge=1, le=MAX_TIMEOUT_SECONDS)
    created_at: Timestamp
    updated_at: Timestamp
    deadline_at: Timestamp | None
    last_event_at: Timestamp | None
    ended_at: Timestamp | None

    @classmethod
    def fields_of(cls, row: Any) -> dict[str, Any]:
        node = None
        if row["current_node_id"] is not None:
            node = CurrentNode.model_construct(
                id=row["current_node_id"], name=row["current_node_name"]
            )
        return {
            "id": row["id"],
            "flow_id": row["flow_id"],
            "flow_version": row["flow_version"],
            "name": row["name"],
            "state": row["state"],
            "state_reason": row["state_reason"],
            "error_code": row["error_code"],
            "flow_execution_id": row["flow_execution_id"],
            "conversation_id": row["conversation_id"],
            "current_node": node,
            "input_data": orjson.Fragment(row["input_data"]) if row["input_data"] else None,
            "timeout_seconds": row["timeout_seconds"],
            "idle_timeout_seconds": row["idle_timeout_seconds"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "deadline_at": row["deadline_at"],
            "last_event_at": row["last_event_at"],
            "ended_at": row["ended_at"],
        }


#: Where a launch's execution history stands (history_pulls' states, and ``none``).
HISTORY_STATES = ("none", "pending", "pulled", "ambiguous", "expired")


class LaunchHistory(WireModel):
    """Where the launch's execution history (the pull from Genesys) stands."""

    state: str = one_of(
        HISTORY_STATES,
        "`none`: the pull never looked for it (its node events came by another way, or "
        "the pull is off); `pending`: not found yet, tried again later; `pulled`: "
        "downloaded; `ambiguous`: several runs could be it, none was taken; `expired`: "
        "past the platform's 10-day retention without history — not tried again.",
    )
    detail: str | None = Field(description="Why it stands there, when known.")
    attempts: int = Field(description="How many times the pull looked for it.")
    updated_at: Timestamp | None = Field(description="When that last changed.")
    instance_id: str | None = Field(description="The platform's flow instance, once matched.")

    @classmethod
    def of(cls, row: Any) -> LaunchHistory:
        """From a launch row read with its history (storage.launches.HISTORY_COLUMNS)."""
        state = row.get("history_state")
        return cls.model_construct(
            state=state or "none",
            detail=row.get("history_detail"),
            attempts=row.get("history_attempts") or 0,
            updated_at=row.get("history_updated_at"),
            instance_id=row.get("history_instance_id"),
        )


class LaunchDetail(Launch):
    """A launch with its event counts, latest event, and where its history stands."""

    event_counts: dict[str, int] = Field(
        description="Its events by kind.",
        json_schema_extra={"propertyNames": {"enum": list(KINDS)}},
    )
    last_event: Event | None
    history: LaunchHistory


class LaunchRequest(RequestModel):
    """What to launch."""

    model_config = ConfigDict(
        coerce_numbers_to_str=True,
        json_schema_extra={
            "examples": [
                {
                    "flowId": "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37",
                    "inputData": {"Flow.orderId": "4711"},
                    "name": "order 4711",
                    "timeoutSeconds": 900,
                    "idleTimeoutSeconds": 300,
                }
            ]
        },
    )

    flow_id: str = Field(
        description="The flow to launch: its id, a UUID.",
        min_length=1,
        max_length=128,
        json_schema_extra={"format": "uuid", "pattern": _UUID},
    )
    flow_version: str | None = Field(
        None, description="Default: the published version.", max_length=64, pattern=_NoNul
    )
    input_data: dict[str, Any] | None = Field(None, description="The flow's inputs.")
    name: str | None = Field(None, max_length=255, pattern=_NoNul)
    timeout_seconds: _Seconds | None = None
    idle_timeout_seconds: _Seconds | None = None

    @field_validator("flow_id")
    @classmethod
    def _a_flow_id(cls, value: str) -> str:
        # Refused here: the platform would refuse it too, after a launch_failed was stored.
        if not re.fullmatch(_UUID, value):
            raise PydanticCustomError(
                "flow_id", "must be a flow id, a UUID such as 7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"
            )
        return value

    def order(self) -> LaunchOrder:
        """The launch this request asks for (empty texts count as absent)."""
        return LaunchOrder(
            flow_id=self.flow_id,
            flow_version=self.flow_version or None,
            name=self.name or None,
            input_data=self.input_data,
            timeout_seconds=self.timeout_seconds,
            idle_timeout_seconds=self.idle_timeout_seconds,
        )


class Rejection(WireModel):
    """What the platform said, and the launch as kept (`launch_failed` or `pending`)."""

    genesys_status: int | None = Field(description="The platform's HTTP status.")
    genesys_code: str | None = Field(description="The platform's error code.")
    correlation_id: str | None = Field(description="The platform's ININ-Correlation-Id.")
    launch: LaunchDetail


class LaunchQuery(RequestModel):
    """The filters of ``GET /api/v1/launches``."""

    state: str | None = one_of(STATES, "Only launches in this state.", nullable=True)
    flow_id: str | None = Field(None, description="Only launches of this flow.")
    since: datetime | None = Field(None, description="Only launches created at or after this time.")
    until: datetime | None = Field(None, description="Only launches created before this time.")
    conversation_id: str | None = Field(
        None, description="Only the launch(es) running in this conversation."
    )
    flow_execution_id: str | None = Field(
        None, description="Only the launch of this platform execution."
    )
    name_prefix: str | None = Field(
        None, description="Only launches whose name starts with this text (case-sensitive)."
    )
    limit: int = 0
    cursor: str | None = None
