"""Conversations created by conversation flows, served as the real ``Conversation`` model.

A conversation has a customer participant and the flow's participant (purpose ``ivr``
for call flows, ``workflow`` for workflows), each with one voice call. ``endTime`` stays
null until the conversation ends; ``state`` is never returned (it is write-only upstream).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.catalog import division_ref
from sandbox.errors import NotFound
from sandbox.flows import FlowDefinition
from sandbox.timestamps import iso, utc_now
from sandbox.wire import drop_none

CUSTOMER_ANI = "tel:+15555550123"
FLOW_DNIS = "tel:+15555550100"


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Conversation:
    """One voice interaction handled by a flow."""

    flow: FlowDefinition
    execution_id: str
    id: str = field(default_factory=_new_id)
    started_at: datetime = field(default_factory=utc_now)
    ended_at: datetime | None = None
    disconnect_type: str | None = None
    teardown_requested: bool = False
    customer_participant_id: str = field(default_factory=_new_id)
    flow_participant_id: str = field(default_factory=_new_id)
    #: The flow session inside the conversation (``sessionId`` of flow detail events).
    session_id: str = field(default_factory=_new_id)
    customer_call_id: str = field(default_factory=_new_id)
    flow_call_id: str = field(default_factory=_new_id)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def end(self, disconnect_type: str) -> None:
        if self.ended_at is None:
            self.ended_at = utc_now()
            self.disconnect_type = disconnect_type

    def _participant(self, pid: str, call_id: str, purpose: str, name: str) -> dict[str, Any]:
        call = drop_none(
            {
                "id": call_id,
                "state": "disconnected" if self.ended else "connected",
                "direction": "inbound",
                "recording": False,
                "recordingState": "none",
                "muted": False,
                "held": False,
                "connectedTime": iso(self.started_at),
                "disconnectedTime": iso(self.ended_at) if self.ended_at else None,
                "disconnectType": self.disconnect_type,
                "provider": "Edge",
            }
        )
        return drop_none(
            {
                "id": pid,
                "name": name,
                "startTime": iso(self.started_at),
                "endTime": iso(self.ended_at) if self.ended_at else None,
                "connectedTime": iso(self.started_at),
                "purpose": purpose,
                "address": FLOW_DNIS if purpose != "customer" else CUSTOMER_ANI,
                "ani": CUSTOMER_ANI,
                "dnis": FLOW_DNIS,
                "wrapupRequired": False,
                "attributes": {},
                "calls": [call],
            }
        )

    def to_json(self) -> dict[str, Any]:
        flow_purpose = "ivr" if self.flow.type != "workflow" else "workflow"
        return {
            "id": self.id,
            "startTime": iso(self.started_at),
            # Kept explicitly null (not omitted) while active, as in genesys-api.md §4.4.
            "endTime": iso(self.ended_at) if self.ended_at else None,
            "address": FLOW_DNIS,
            "participants": [
                self._participant(
                    self.customer_participant_id, self.customer_call_id, "customer", "Customer"
                ),
                self._participant(
                    self.flow_participant_id, self.flow_call_id, flow_purpose, self.flow.name
                ),
            ],
            "recordingState": "NONE",
            "divisions": [{"division": division_ref(), "entities": [{"id": self.flow.id}]}],
            "selfUri": f"/api/v2/conversations/{self.id}",
        }


class ConversationRegistry:
    """Every conversation this sandbox created."""

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}

    def create(self, flow: FlowDefinition, execution_id: str) -> Conversation:
        conversation = Conversation(flow=flow, execution_id=execution_id)
        self._conversations[conversation.id] = conversation
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            raise NotFound(f"Conversation {conversation_id} was not found.")
        return conversation

    def clear(self) -> None:
        self._conversations.clear()
