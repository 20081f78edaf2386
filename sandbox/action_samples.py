"""The sample data actions of the built-in org, against the sandbox's stub service.

Installed at start (and again after ``POST /sandbox/reset``) when
``SandboxConfig.sample_actions`` says so. Their ids are stable so tests and docs can name
them (docs/sandbox.md lists them). They live in their own Web Services integration,
"Sandbox sample actions", with a ``userDefined`` credential whose ``apiKey`` the stub
checks; flows' Call Data Action steps never call them (they are not callbacks).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.integrations import (
    WEB_SERVICES_TYPE,
    Action,
    Credential,
    Integration,
    IntegrationRegistry,
)
from sandbox.stub import STUB_API_KEY

SAMPLE_INTEGRATION_ID = "5a9b7c3d-0000-4000-8000-0000000a0000"
SAMPLE_CREDENTIAL_ID = "5a9b7c3d-0000-4000-8000-0000000a00c0"
LOOKUP_ACCOUNT = "custom_-_5a9b7c3d-0000-4000-8000-0000000a0001"
SLOW_REPORT = "custom_-_5a9b7c3d-0000-4000-8000-0000000a0002"
FLAKY_LOOKUP = "custom_-_5a9b7c3d-0000-4000-8000-0000000a0003"
CATEGORY = "Sandbox samples"
DRAFT_04 = "http://json-schema.org/draft-04/schema#"

_ID = {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$"}

_LOOKUP_ACCOUNT: dict[str, Any] = {
    "id": LOOKUP_ACCOUNT,
    "name": "Lookup Account",
    "contract": {
        "input": {
            "inputSchema": {
                "$schema": DRAFT_04,
                "title": "Lookup Account input",
                "type": "object",
                "required": ["accountId"],
                "properties": {
                    "accountId": {**_ID, "description": "The account to look up."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                    "includeClosed": {"type": "boolean"},
                },
                "additionalProperties": False,
            }
        },
        "output": {
            "successSchema": {
                "$schema": DRAFT_04,
                "title": "Lookup Account output",
                "type": "object",
                "properties": {
                    "accountId": {"type": "string"},
                    "name": {"type": "string"},
                    "tier": {"type": "string"},
                    "balance": {"type": "number"},
                    "orders": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "orderId": {"type": "string"},
                                "status": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
    "config": {
        "timeoutSeconds": 10,
        "request": {
            "requestUrlTemplate": "/sandbox/stub/accounts/$!{input.accountId}"
            "?limit=$!{input.limit}&includeClosed=$!{input.includeClosed}",
            "requestType": "GET",
            "headers": {"X-Api-Key": "$!{credentials.apiKey}", "Accept": "application/json"},
            "requestTemplate": "${input.rawRequest}",
        },
        "response": {
            "translationMap": {
                "accountId": "$.account.id",
                "name": "$.account.name",
                "tier": "$.account.tier",
                "balance": "$.account.balance",
                "orders": "$.orders",
            },
            "translationMapDefaults": {"tier": '"standard"', "orders": "[]"},
            "successTemplate": '{"accountId": ${accountId}, "name": ${name}, "tier": ${tier},'
            ' "balance": ${balance}, "orders": ${orders}}',
        },
    },
}

_SLOW_REPORT: dict[str, Any] = {
    "id": SLOW_REPORT,
    "name": "Slow Report",
    "contract": {
        "input": {
            "inputSchema": {
                "$schema": DRAFT_04,
                "title": "Slow Report input",
                "type": "object",
                "required": ["reportName"],
                "properties": {
                    "reportName": _ID,
                    "delaySeconds": {"type": "number", "minimum": 0, "maximum": 120},
                },
            }
        },
        "output": {
            "successSchema": {
                "$schema": DRAFT_04,
                "title": "Slow Report output",
                "type": "object",
                "properties": {"reportId": {"type": "string"}, "rows": {"type": "integer"}},
            }
        },
    },
    "config": {
        "timeoutSeconds": 2,
        "request": {
            "requestUrlTemplate": "/sandbox/stub/reports",
            "requestType": "POST",
            "headers": {"Content-Type": "application/json"},
            "requestTemplate": "${input.rawRequest}",
        },
        "response": {"successTemplate": "${rawResult}"},
    },
}

_FLAKY_LOOKUP: dict[str, Any] = {
    "id": FLAKY_LOOKUP,
    "name": "Flaky Lookup",
    "contract": {
        "input": {
            "inputSchema": {
                "$schema": DRAFT_04,
                "title": "Flaky Lookup input",
                "type": "object",
                "required": ["key"],
                "properties": {
                    "key": _ID,
                    "fail": {"type": "boolean"},
                    "failureRate": {"type": "number", "minimum": 0, "maximum": 1},
                },
            }
        },
        "output": {
            "successSchema": {
                "$schema": DRAFT_04,
                "title": "Flaky Lookup output",
                "type": "object",
                "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
            }
        },
    },
    "config": {
        "timeoutSeconds": 5,
        "request": {
            "requestUrlTemplate": "/sandbox/stub/flaky/$!{input.key}"
            "?fail=$!{input.fail}&failureRate=$!{input.failureRate}",
            "requestType": "GET",
            "headers": {},
            "requestTemplate": "${input.rawRequest}",
        },
        "response": {
            "translationMap": {"key": "$.key", "value": "$.value"},
            "successTemplate": '{"key": ${key}, "value": ${value}}',
        },
    },
}

SAMPLE_ACTIONS = (_LOOKUP_ACCOUNT, _SLOW_REPORT, _FLAKY_LOOKUP)


def install_sample_actions(registry: IntegrationRegistry) -> None:
    """Add (or put back) the sample integration, its credential and its actions."""
    registry.integrations[SAMPLE_INTEGRATION_ID] = Integration(
        SAMPLE_INTEGRATION_ID,
        "Sandbox sample actions",
        WEB_SERVICES_TYPE,
        intended_state="ENABLED",
        notes="Sample data actions against the sandbox's stub service.",
        credentials={"userDefined": SAMPLE_CREDENTIAL_ID},
        callbacks=False,
    )
    registry.credentials[SAMPLE_CREDENTIAL_ID] = Credential(
        SAMPLE_CREDENTIAL_ID, "Sandbox stub key", "userDefined", {"apiKey": STUB_API_KEY}
    )
    for sample in SAMPLE_ACTIONS:
        registry.add_action(
            Action(
                id=sample["id"],
                name=sample["name"],
                integration_id=SAMPLE_INTEGRATION_ID,
                category=CATEGORY,
                contract=copy.deepcopy(sample["contract"]),
                config=copy.deepcopy(sample["config"]),
            )
        )
