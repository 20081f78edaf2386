"""``/api/v2/integrations``: integrations, their current config, and credentials (§10).

Verbs are the SDK's: integrations POST/GET/PATCH/DELETE (``PATCH`` changes
``intendedState``), ``config/current`` GET/PUT (``version`` must be the current one, else
409; the config's ``name`` renames the integration), credentials POST/GET/PUT/DELETE.
A new integration starts ``DISABLED``, as upstream; its actions run only once ENABLED.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.errors import BadRequest, Conflict
from sandbox.integrations import (
    CREDENTIAL_TYPES,
    INTEGRATION_TYPES,
    Credential,
    config_json,
    integration_json,
)
from sandbox.state import sandbox_of
from sandbox.timestamps import utc_now
from sandbox.wire import JSONResponse, entity_listing, query_list, read_object

_INTENDED_STATES = frozenset({"ENABLED", "DISABLED", "DELETED", "RESTORED"})


async def create_integration(request: Request) -> Response:
    """``POST /api/v2/integrations`` (``CreateIntegrationRequest``) → ``Integration``."""
    sandbox = sandbox_of(request)
    body = await read_object(request)
    integration_type = body.get("integrationType")
    type_id = integration_type.get("id") if isinstance(integration_type, dict) else None
    if type_id not in INTEGRATION_TYPES:
        raise BadRequest(f"Unknown integration type {type_id!r}.", code="invalid.value")
    name = body.get("name")
    integration = sandbox.integrations.add_integration(
        name if isinstance(name, str) and name else None, str(type_id)
    )
    return JSONResponse(integration_json(sandbox.integrations, integration))


async def list_integrations(request: Request) -> Response:
    """``GET /api/v2/integrations`` → ``IntegrationEntityListing``.

    Filters are the SDK's: ``integrationType``, ``ids``, ``reportedState``,
    ``credentialId`` (there is no name filter upstream).
    """
    sandbox = sandbox_of(request)
    params = request.query_params
    ids = set(query_list(request, "ids"))

    def wanted(document: dict[str, Any]) -> bool:
        credential_ids = {c["id"] for c in document["config"]["current"]["credentials"].values()}
        return (
            (not ids or document["id"] in ids)
            and params.get("integrationType") in (None, document["integrationType"]["id"])
            and params.get("reportedState", "").upper() in ("", document["reportedState"]["code"])
            and params.get("credentialId") in (None, *credential_ids)
        )

    registry = sandbox.integrations
    documents = [integration_json(registry, i) for i in registry.integrations.values()]
    documents = [d for d in documents if wanted(d)]
    return JSONResponse(entity_listing(request, documents))


async def get_integration(request: Request) -> Response:
    sandbox = sandbox_of(request)
    integration = sandbox.integrations.integration(request.path_params["integrationId"])
    return JSONResponse(integration_json(sandbox.integrations, integration))


async def patch_integration(request: Request) -> Response:
    """``PATCH /api/v2/integrations/{integrationId}``: set ``intendedState``."""
    sandbox = sandbox_of(request)
    integration = sandbox.integrations.integration(request.path_params["integrationId"])
    body = await read_object(request)
    state = body.get("intendedState")
    if state is not None:
        if state not in _INTENDED_STATES:
            raise BadRequest(f"Invalid intendedState {state!r}.", code="invalid.value")
        integration.intended_state = "ENABLED" if state == "RESTORED" else state
        integration.updated = utc_now()
    return JSONResponse(integration_json(sandbox.integrations, integration))


async def delete_integration(request: Request) -> Response:
    sandbox = sandbox_of(request)
    integration = sandbox.integrations.remove_integration(request.path_params["integrationId"])
    return JSONResponse(integration_json(sandbox.integrations, integration))


async def get_config(request: Request) -> Response:
    """``GET …/{integrationId}/config/current`` → ``IntegrationConfiguration``."""
    sandbox = sandbox_of(request)
    integration = sandbox.integrations.integration(request.path_params["integrationId"])
    return JSONResponse(config_json(sandbox.integrations, integration))


async def put_config(request: Request) -> Response:
    """``PUT …/{integrationId}/config/current``: replace the config, bumping ``version``."""
    sandbox = sandbox_of(request)
    registry = sandbox.integrations
    integration = registry.integration(request.path_params["integrationId"])
    body = await read_object(request)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadRequest(
            "'version' (the current config version) is required.", code="invalid.value"
        )
    if version != integration.config_version:
        raise Conflict(
            f"Config version {version} is not the current version {integration.config_version}."
        )
    credentials: dict[str, str] = {}
    for key, reference in (body.get("credentials") or {}).items():
        credential_id = reference.get("id") if isinstance(reference, dict) else None
        if not isinstance(credential_id, str) or credential_id not in registry.credentials:
            raise BadRequest(f"Credential {key!r} refers to no credential.", code="invalid.value")
        credentials[str(key)] = credential_id
    for key in ("properties", "advanced"):
        if not isinstance(body.get(key, {}), dict):
            raise BadRequest(f"'{key}' must be an object.", code="invalid.value")
    if isinstance(body.get("name"), str) and body["name"]:
        integration.name = body["name"]
    integration.properties = dict(body.get("properties") or {})
    integration.advanced = dict(body.get("advanced") or {})
    integration.notes = str(body.get("notes") or "")
    integration.credentials = credentials
    integration.config_version += 1
    integration.updated = utc_now()
    return JSONResponse(config_json(registry, integration))


def _credential_input(body: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    name = body.get("name")
    kind = body.get("type")
    type_name = kind.get("name") if isinstance(kind, dict) else None
    fields = body.get("credentialFields") or {}
    if not isinstance(name, str) or not name:
        raise BadRequest("'name' is required.", code="invalid.value")
    if type_name not in CREDENTIAL_TYPES:
        raise BadRequest(f"Unknown credential type {type_name!r}.", code="invalid.value")
    if not isinstance(fields, dict):
        raise BadRequest("'credentialFields' must be an object.", code="invalid.value")
    if type_name == "basicAuth" and not {"userName", "password"} <= set(fields):
        raise BadRequest("basicAuth needs 'userName' and 'password'.", code="invalid.value")
    return name, str(type_name), {str(k): str(v) for k, v in fields.items()}


async def create_credential(request: Request) -> Response:
    """``POST /api/v2/integrations/credentials`` (``Credential``) → ``CredentialInfo``."""
    sandbox = sandbox_of(request)
    name, type_name, fields = _credential_input(await read_object(request))
    credential = sandbox.integrations.add_credential(name, type_name, fields)
    return JSONResponse(credential.info_json())


async def list_credentials(request: Request) -> Response:
    sandbox = sandbox_of(request)
    infos = [c.info_json() for c in sandbox.integrations.credentials.values()]
    return JSONResponse(entity_listing(request, infos))


async def get_credential(request: Request) -> Response:
    sandbox = sandbox_of(request)
    credential = sandbox.integrations.credential(request.path_params["credentialId"])
    return JSONResponse(credential.to_json())


async def put_credential(request: Request) -> Response:
    sandbox = sandbox_of(request)
    credential: Credential = sandbox.integrations.credential(request.path_params["credentialId"])
    credential.name, credential.type_name, credential.fields = _credential_input(
        await read_object(request)
    )
    credential.modified = utc_now()
    return JSONResponse(credential.info_json())


async def delete_credential(request: Request) -> Response:
    sandbox = sandbox_of(request)
    credential = sandbox.integrations.credential(request.path_params["credentialId"])
    del sandbox.integrations.credentials[credential.id]
    return Response(status_code=204)


_ONE = "/api/v2/integrations/{integrationId}"
_CREDENTIAL = "/api/v2/integrations/credentials/{credentialId}"
routes = [
    Route("/api/v2/integrations/credentials", create_credential, methods=["POST"]),
    Route("/api/v2/integrations/credentials", list_credentials, methods=["GET"]),
    Route(_CREDENTIAL, get_credential, methods=["GET"]),
    Route(_CREDENTIAL, put_credential, methods=["PUT"]),
    Route(_CREDENTIAL, delete_credential, methods=["DELETE"]),
    Route("/api/v2/integrations", create_integration, methods=["POST"]),
    Route("/api/v2/integrations", list_integrations, methods=["GET"]),
    Route(_ONE, get_integration, methods=["GET"]),
    Route(_ONE, patch_integration, methods=["PATCH"]),
    Route(_ONE, delete_integration, methods=["DELETE"]),
    Route(f"{_ONE}/config/current", get_config, methods=["GET"]),
    Route(f"{_ONE}/config/current", put_config, methods=["PUT"]),
]
