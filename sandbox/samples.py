"""The flows a sandbox serves when no flow file is given (stable ids for demos)."""

from __future__ import annotations

from typing import Any

from sandbox.flows import FlowDefinition, parse_flows

#: The sample flow without Call Data Action steps (docs/sandbox.md).
ADDRESS_CHANGE = "9a3c5e7f-1b2d-4e6f-8a0b-c2d4e6f8a0b1"

_SAMPLES: list[dict[str, Any]] = [
    {
        "id": "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37",
        "name": "Order follow-up",
        "type": "workflow",
        "description": "Looks an order up and notifies the customer; usually completes.",
        "output_data": {"Flow.notified": True},
        "nodes": [
            {
                "id": "task-main",
                "type": "Task",
                "name": "Main task",
                "duration_ms": 100,
                "next": "act-lookup",
            },
            {
                "id": "act-lookup",
                "type": "CallData",
                "name": "Look up order",
                "duration_ms": 400,
                "error_probability": 0.05,
                "error_code": "DATA_ACTION_FAILED",
                "paths": [
                    {"name": "found", "to": "act-notify", "weight": 4},
                    {"name": "missing", "to": None, "weight": 1},
                ],
                "on_error": "act-log-error",
            },
            {
                "id": "act-notify",
                "type": "SendEmail",
                "name": "Notify customer",
                "duration_ms": 300,
            },
            {
                "id": "act-log-error",
                "type": "UpdateData",
                "name": "Log the failure",
                "duration_ms": 50,
            },
        ],
    },
    {
        "id": "0b6f2d41-96a3-4c1e-8f57-3d2c1b0a9e88",
        "name": "Flaky billing sync",
        "type": "workflow",
        "description": "Fails often and has no error path: ends ERROR about a third of the time.",
        "nodes": [
            {
                "id": "fetch",
                "type": "CallData",
                "name": "Fetch invoices",
                "duration_ms": 300,
                "next": "push",
            },
            {
                "id": "push",
                "type": "CallData",
                "name": "Push to billing",
                "duration_ms": 500,
                "error_probability": 0.35,
                "error_code": "BILLING_UNAVAILABLE",
            },
        ],
    },
    {
        "id": "c4e1a9d0-2b7f-4e36-a5c8-91f0e2d3b4a5",
        "name": "Stuck approval",
        "type": "workflow",
        "description": "Waits for an approval that often never comes (hangs forever).",
        "nodes": [
            {
                "id": "request",
                "type": "Task",
                "name": "Request approval",
                "duration_ms": 200,
                "next": "wait",
            },
            {
                "id": "wait",
                "type": "Wait",
                "name": "Wait for approval",
                "duration_ms": 1500,
                "hang_probability": 0.5,
            },
        ],
    },
    {
        "id": "5e8d7c6b-4a39-4281-9f0e-d1c2b3a49586",
        "name": "Callback with customer call",
        "type": "workflow",
        "conversation": True,
        "description": "A workflow tied to a conversation; can hang until disconnected.",
        "nodes": [
            {
                "id": "dial",
                "type": "Task",
                "name": "Dial customer",
                "duration_ms": 300,
                "next": "talk",
            },
            {
                "id": "talk",
                "type": "PlayAudio",
                "name": "Play message",
                "duration_ms": 800,
                "hang_probability": 0.2,
                "next": "bye",
            },
            {"id": "bye", "type": "Disconnect", "name": "Disconnect", "duration_ms": 50},
        ],
    },
    {
        "id": ADDRESS_CHANGE,
        "name": "Address change (no data actions)",
        "type": "workflow",
        "conversation": True,
        "data_action_steps": False,
        "description": (
            "Has no Call Data Action steps: its nodes are seen only through the notification"
            " push and the execution-history pull."
        ),
        "nodes": [
            {
                "id": "main",
                "type": "Task",
                "name": "Main task",
                "duration_ms": 100,
                "next": "verify",
            },
            {
                "id": "verify",
                "type": "Decision",
                "name": "Address valid?",
                "duration_ms": 200,
                "paths": [
                    {"name": "__YES__", "to": "update", "weight": 4},
                    {"name": "__NO__", "to": "not-updated", "weight": 1},
                ],
            },
            {
                "id": "update",
                "type": "UpdateData",
                "name": "Update the address",
                "duration_ms": 300,
                "error_probability": 0.1,
                "error_code": "ADDRESS_LOCKED",
                "on_error": "not-updated",
                "next": "updated",
            },
            {
                "id": "updated",
                "type": "SetFlowOutcome",
                "name": "Outcome: address updated",
                "duration_ms": 20,
                "outcome": "SUCCESS",
            },
            {
                "id": "not-updated",
                "type": "SetFlowOutcome",
                "name": "Outcome: address not updated",
                "duration_ms": 20,
                "outcome": "FAILURE",
            },
        ],
    },
    {
        "id": "11112222-3333-4444-5555-666677778888",
        "name": "Main IVR",
        "type": "inboundcall",
        "description": "Inbound call flow: started by POST /sandbox/interactions, not the API.",
        "nodes": [
            {
                "id": "menu",
                "type": "Menu",
                "name": "Main menu",
                "duration_ms": 600,
                "next": "route",
            },
            {
                "id": "route",
                "type": "TransferToAcd",
                "name": "Transfer to queue",
                "duration_ms": 200,
            },
        ],
    },
]


def sample_flows() -> list[FlowDefinition]:
    return parse_flows(_SAMPLES)
