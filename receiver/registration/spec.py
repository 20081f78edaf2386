"""What flowtrack registers in Genesys, as data, and how a registered resource differs.

The action's contract is derived from the callback's own models
(``receiver.ingest.canonical.CanonicalEvent`` in, ``receiver.ingest.answer.CallbackAnswer``
out), so the endpoint and what Genesys is told about it cannot drift apart.

No I/O here (genesys-api.md §10 for the fields). A flow's Call Data Action step supplies
the canonical callback body (README "Canonical callback") as input; Genesys POSTs it as
JSON to flowtrack's callback endpoint with the token from the integration's credential,
and the endpoint's 200 body ``{accepted, duplicates, command}`` becomes the step's output,
so a flow can branch on ``command == "stop"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any, Final

from receiver.ingest.answer import CallbackAnswer
from receiver.ingest.canonical import CanonicalEvent

INTEGRATION_NAME: Final = "flowtrack"
CREDENTIAL_NAME: Final = "flowtrack callback token"
CREDENTIAL_TYPE: Final = "userDefined"
#: A custom-rest-actions integration has one credential slot, named ``basicAuth`` whatever
#: the credential's type (Genesys' own Terraform examples put userDefined ones there).
CREDENTIAL_SLOT: Final = "basicAuth"
#: The credential field holding the callback token, read as ``${credentials.token}``.
TOKEN_FIELD: Final = "token"  # noqa: S105 - a field name, not a secret
ACTION_NAME: Final = "flowtrack — report flow event"
ACTION_CATEGORY: Final = "flowtrack"
CALLBACK_PATH: Final = "/webhooks/genesys"
ANSWER_FIELDS: Final = tuple(
    info.alias or name for name, info in CallbackAnswer.model_fields.items()
)
TIMEOUT_SECONDS: Final = 10

NOTES: Final = (
    "Managed by flowtrack: `flowtrack register` keeps this integration, its credential and "
    f"the action {ACTION_NAME!r} in step with FLOWTRACK_PUBLIC_URL and "
    "FLOWTRACK_CALLBACK_TOKENS; edits here are overwritten."
)
_FINGERPRINT_LABEL: Final = "token fingerprint: "
_FINGERPRINT_ROUNDS: Final = 100_000

#: Where a flow author needs more than the callback's own description (Architect hints).
_ARCHITECT_HINTS: Final = {
    "event": "start, node_enter, node_exit, error or complete",
    "launchId": "flowtrack's launch id: Flow.flowtrackLaunchId",
    "occurredAt": "When it happened, ISO-8601 UTC: GetCurrentDateTimeUtc()",
}
_ABSENT_NOTE: Final = " Empty or null counts as absent."


def _contract() -> dict[str, Any]:
    """The action's ``contract`` (draft-04, as Genesys takes it): the canonical callback
    body in, the callback's 200 body out, both derived from their models."""
    inputs = {
        name: {
            "type": "object" if name == "attributes" else "string",
            "description": _ARCHITECT_HINTS.get(name, text.removesuffix(_ABSENT_NOTE)),
        }
        for name, text in CanonicalEvent.inputs().items()
    }
    outputs = {
        info.alias or name: {
            "type": "integer" if info.annotation is int else "string",
            "description": info.description or "",
        }
        for name, info in CallbackAnswer.model_fields.items()
    }
    return {
        "input": {
            "inputSchema": {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "title": "flowtrack flow event",
                "type": "object",
                "required": ["event"],
                "properties": inputs,
                "additionalProperties": True,
            }
        },
        "output": {
            "successSchema": {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "title": "flowtrack answer",
                "type": "object",
                "properties": outputs,
                "additionalProperties": True,
            }
        },
    }


ACTION_CONTRACT: Final[dict[str, Any]] = _contract()


def action_config(callback_url: str) -> dict[str, Any]:
    """The action's ``config``: where and how the step posts, and how the answer becomes
    its output. Translated values enter ``successTemplate`` as JSON (``${command}`` is a
    quoted string), and the defaults are JSON literals (genesys-api.md §10.1)."""
    return {
        "timeoutSeconds": TIMEOUT_SECONDS,
        "request": {
            "requestUrlTemplate": callback_url,
            "requestType": "POST",
            "headers": {
                "Content-Type": "application/json",
                "Authorization": f"Bearer ${{credentials.{TOKEN_FIELD}}}",
            },
            "requestTemplate": "${input.rawRequest}",
        },
        "response": {
            "translationMap": {name: f"$.{name}" for name in ANSWER_FIELDS},
            # A flow must not fail because an answer lacks a field: default to carry on.
            "translationMapDefaults": {
                "accepted": "0",
                "duplicates": "0",
                "command": '"continue"',
            },
            "successTemplate": (
                '{"accepted": ${accepted}, "duplicates": ${duplicates}, "command": ${command}}'
            ),
        },
    }


def config_changes(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Names of the settings in ``desired`` that ``current`` (a registered config) lacks
    or has otherwise; settings Genesys may add beyond ours are ignored."""
    timeout = desired["timeoutSeconds"]
    changed = [] if current.get("timeoutSeconds") == timeout else ["timeoutSeconds"]
    for part in ("request", "response"):
        have = _object(current, part)
        changed += [key for key, value in desired[part].items() if have.get(key) != value]
    return changed


def contract_drift(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Contract fields whose presence, type or requiredness differ, e.g. ``input outcome``.

    Titles, descriptions and whatever Genesys adds to a stored schema are not compared.
    """
    drift = []
    for part, key in (("input", "inputSchema"), ("output", "successSchema")):
        have, want = _shape(current, part, key), _shape(desired, part, key)
        names = sorted(
            name for name in have.keys() | want.keys() if have.get(name) != want.get(name)
        )
        drift += [f"{part} {name}" for name in names]
    return drift


def integration_notes(fingerprint: str) -> str:
    """The integration's notes: who manages it, and the token fingerprint."""
    return f"{NOTES}\n{_FINGERPRINT_LABEL}{fingerprint}"


def token_fingerprint(credential_id: str, token: str, salt: bytes | None = None) -> str:
    """A fingerprint of the token stored in a credential, for the integration's notes.

    Genesys never hands a credential's fields back, so this is how registration tells
    whether the token changed. Salted and slow: org admins can read the notes, and a
    token may be guessable.
    """
    salt = salt if salt is not None else os.urandom(16)
    secret = f"{credential_id}\n{token}".encode()
    digest = hashlib.pbkdf2_hmac("sha256", secret, salt, _FINGERPRINT_ROUNDS)
    return f"pbkdf2-sha256${_b64(salt)}${_b64(digest)}"


def proven_fingerprint(notes: str | None, credential_id: str, token: str) -> str | None:
    """The fingerprint in ``notes`` if it proves the credential holds ``token``, else None."""
    for line in (notes or "").splitlines():
        if line.startswith(_FINGERPRINT_LABEL):
            stored = line.removeprefix(_FINGERPRINT_LABEL).strip()
            salt = stored.split("$")[1] if stored.count("$") == 2 else ""
            try:
                expected = token_fingerprint(
                    credential_id, token, base64.b64decode(salt, validate=True)
                )
            except ValueError:
                return None
            return stored if hmac.compare_digest(stored.encode(), expected.encode()) else None
    return None


def _shape(contract: dict[str, Any], part: str, key: str) -> dict[str, tuple[Any, bool]]:
    schema = _object(_object(contract, part), key)
    required = schema.get("required")
    names = set(required) if isinstance(required, list) else set()
    return {
        name: (spec.get("type") if isinstance(spec, dict) else None, name in names)
        for name, spec in _object(schema, "properties").items()
    }


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
