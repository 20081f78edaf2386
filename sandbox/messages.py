"""Shapes of every message the sandbox pushes: notification bodies, frames, envelopes.

- ``v2.detail.events.conversation.{id}.flow.start`` / ``.flow.end`` / ``.flow.outcome`` bodies
  (genesys-api.md §6; epoch-ms ``eventTime``, upper-case enums),
- ``v2.flows.instances.flow.{flowId}`` execution history (§5.4),
- the WebSocket frame ``{topicName, version, eventBody, metadata: {CorrelationId}}`` (§7.4)
  and the ``channel.metadata`` heartbeat / pong (§7.5),
- the AWS EventBridge envelope around a frame (§8).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sandbox.catalog import HOME_DIVISION_ID
from sandbox.conversations import CUSTOMER_ANI, FLOW_DNIS, Conversation
from sandbox.executions import Execution
from sandbox.history_record import pushed_items
from sandbox.timestamps import epoch_ms, iso, iso_seconds

_CONCRETE_ID = re.compile(
    r"^(v2\.detail\.events\.conversation\.)[^.]+(\..+)$|^(v2\.flows\.instances\.flow\.)[^.]+$"
)


def conversation_topic(conversation_id: str, event: str) -> str:
    return f"v2.detail.events.conversation.{conversation_id}.flow.{event}"


def instances_topic(flow_id: str) -> str:
    return f"v2.flows.instances.flow.{flow_id}"


def _detail_common(
    execution: Execution, conversation: Conversation, at: datetime
) -> dict[str, Any]:
    return {
        "eventTime": epoch_ms(at),
        "conversationId": conversation.id,
        "participantId": conversation.flow_participant_id,
        "sessionId": conversation.session_id,
        "mediaType": "VOICE",
        "provider": "Edge",
        "direction": "INBOUND",
        "ani": CUSTOMER_ANI,
        "dnis": FLOW_DNIS,
        "flowType": execution.flow.type.upper(),
        "flowId": execution.flow.id,
        "divisionId": HOME_DIVISION_ID,
        "flowVersion": execution.flow.version,
    }


def flow_start_body(execution: Execution, conversation: Conversation) -> dict[str, Any]:
    """``FlowStartDetailEventTopicFlowStartEvent``."""
    return _detail_common(execution, conversation, execution.launched_at)


def flow_end_body(
    execution: Execution,
    conversation: Conversation,
    at: datetime,
    *,
    exit_reason: str,
    disconnect_type: str,
) -> dict[str, Any]:
    """``FlowEndDetailEventTopicFlowEndEvent``."""
    body = _detail_common(execution, conversation, at)
    body.update(
        disconnectType=disconnect_type,
        exitReason=exit_reason,
        connectedDurationMs=max(0, epoch_ms(at) - epoch_ms(execution.launched_at)),
    )
    return body


def flow_outcome_body(
    execution: Execution, conversation: Conversation, node_id: str, value: str, at: datetime
) -> dict[str, Any]:
    """``FlowOutcomeDetailEventTopicFlowOutcomeEvent``: the outcome a node set.

    ``flowOutcomeId`` stands for the outcome definition (``/api/v2/flows/outcomes``); the
    sandbox derives a stable one from the flow and the node.
    """
    body = _detail_common(execution, conversation, at)
    body.update(
        flowOutcomeId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution.flow.id}/{node_id}")),
        flowOutcomeStartTime=epoch_ms(execution.launched_at),
        flowOutcomeEndTime=epoch_ms(at),
        flowOutcomeValue=value,
        flowMilestones=[],
    )
    return body


def execution_history_body(
    execution: Execution,
    ended_at: datetime,
    *,
    exit_reason: str,
    max_items: int,
    history_uri: str,
    history_uri_ttl: int,
) -> dict[str, Any]:
    """``V2FlowExecutionDataFlowidTopicFlowExecutionHistory`` for one finished run.

    Items past ``max_items`` are cut (``executionItemsTruncated``); ``history_uri`` is
    the signed link to the full record either way.
    """
    errors = [item["error"] for item in execution.trail if "error" in item]
    items = pushed_items(execution)
    body: dict[str, Any] = {
        "executionId": execution.id,
        "divisionId": HOME_DIVISION_ID,
        "flowId": execution.flow.id,
        "flowVersion": execution.flow.version,
        "flowType": execution.flow.type,
        "flowIsDebug": False,
        "startDateTime": iso(execution.launched_at),
        "endDateTime": iso(ended_at),
        "flowExitReason": exit_reason,
        "execution": items[:max_items],
        "errors": errors,
        "warnings": [],
        "executionItemsTruncated": len(items) > max_items,
        "executionHistoryUri": history_uri,
        "executionHistoryUriTtl": history_uri_ttl,
    }
    if execution.conversation_id:
        body["conversationId"] = execution.conversation_id
    return body


def frame(topic: str, body: dict[str, Any], correlation_id: str | None = None) -> dict[str, Any]:
    """A notification as it travels on a WebSocket."""
    return {
        "topicName": topic,
        "version": "2",
        "eventBody": body,
        "metadata": {"CorrelationId": correlation_id or str(uuid.uuid4())},
    }


def channel_metadata_frame(message: str) -> dict[str, Any]:
    """``channel.metadata`` system frame: ``WebSocket Heartbeat`` or ``pong``."""
    return {"topicName": "channel.metadata", "eventBody": {"message": message}}


def socket_closing_frame() -> dict[str, Any]:
    return {
        "topicName": "v2.system.socket_closing",
        "eventBody": {"message": "The socket is about to close; reconnect."},
    }


def topic_pattern(topic: str) -> str:
    """``v2.flows.instances.flow.<id>`` -> ``v2.flows.instances.flow.{id}`` (detail-type)."""
    match = _CONCRETE_ID.match(topic)
    if match is None:
        return topic
    if match.group(1):
        return f"{match.group(1)}{{id}}{match.group(2)}"
    return f"{match.group(3)}{{id}}"


def eventbridge_envelope(
    notification: dict[str, Any], *, org_id: str, at: datetime
) -> dict[str, Any]:
    """The EventBridge event an API destination POSTs for one notification."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": topic_pattern(notification["topicName"]),
        "source": f"aws.partner/genesys.com/cloud/{org_id}/flowtrack-sandbox",
        "account": "123456789012",
        "time": iso_seconds(at),
        "region": "us-east-1",
        "resources": [],
        "detail": notification,
    }
