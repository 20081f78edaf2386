"""``/api/v2/integrations/actions``: data actions, their contracts and schemas (§10.2, §16.C).

Verbs are the SDK's: POST (``PostActionInput``), GET list (filters ``name`` — partial,
case-insensitive — ``category``, ``ids`` (at most 50), ``secure``; ``includeConfig``;
``sortBy`` ``name``/``category``, ``sortOrder``; paging), GET one (``expand=contract``,
``flatten``, ``includeConfig``), GET ``/{actionId}/schemas/{fileName}`` (``flatten``),
PATCH (``UpdateActionInput``; ``version`` must be the current one, else 409), DELETE.
``execute`` and ``test`` are in :mod:`sandbox.execute_api`. Action names are unique per
integration (409).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox import execute_api
from sandbox.action_contract import ContractView, flattened_schema, schema_document
from sandbox.errors import BadRequest, Conflict
from sandbox.integrations import Action, IntegrationRegistry, action_json
from sandbox.state import sandbox_of
from sandbox.wire import (
    JSONResponse,
    entity_listing,
    query_bool,
    query_list,
    read_object,
)

_REQUEST_TYPES = frozenset({"GET", "PUT", "POST", "PATCH", "DELETE"})


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid.value")


def _validated_config(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise _invalid("'config' must be an object.")
    request = config.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("requestUrlTemplate"), str):
        raise _invalid("'config.request.requestUrlTemplate' is required.")
    if str(request.get("requestType", "POST")).upper() not in _REQUEST_TYPES:
        raise _invalid("'config.request.requestType' must be an HTTP method.")
    if not isinstance(request.get("headers", {}), dict):
        raise _invalid("'config.request.headers' must be an object.")
    timeout = config.get("timeoutSeconds")
    if timeout is not None and (not isinstance(timeout, int) or not 1 <= timeout <= 60):
        raise _invalid("'config.timeoutSeconds' must be between 1 and 60.")
    if not isinstance(config.get("response", {}), dict):
        raise _invalid("'config.response' must be an object.")
    return config


def _validated_contract(contract: Any) -> dict[str, Any]:
    if not isinstance(contract, dict):
        raise _invalid("'contract' must be an object.")
    input_part, output_part = contract.get("input"), contract.get("output")
    if not isinstance(input_part, dict) or not isinstance(input_part.get("inputSchema"), dict):
        raise _invalid("'contract.input.inputSchema' is required.")
    if not isinstance(output_part, dict) or not isinstance(output_part.get("successSchema"), dict):
        raise _invalid("'contract.output.successSchema' is required.")
    return {"input": input_part, "output": output_part}


def _ensure_unique(
    registry: IntegrationRegistry, integration_id: str, name: str, own: str = ""
) -> None:
    for action in registry.actions.values():
        if action.integration_id == integration_id and action.name == name and action.id != own:
            raise Conflict(f"An action named {name!r} already exists in this integration.")


async def create_action(request: Request) -> Response:
    """``POST /api/v2/integrations/actions`` → ``Action`` (with config)."""
    registry = sandbox_of(request).integrations
    body = await read_object(request)
    name, integration_id = body.get("name"), body.get("integrationId")
    if not isinstance(name, str) or not name:
        raise _invalid("'name' is required.")
    if not isinstance(integration_id, str) or integration_id not in registry.integrations:
        raise _invalid("'integrationId' must name an existing integration.")
    _ensure_unique(registry, integration_id, name)
    action = Action(
        id=f"custom_-_{uuid.uuid4()}",
        name=name,
        integration_id=integration_id,
        category=str(body.get("category") or registry.integrations[integration_id].name),
        contract=_validated_contract(body.get("contract")),
        config=_validated_config(body.get("config")),
        secure=bool(body.get("secure", False)),
    )
    registry.add_action(action)
    return JSONResponse(action_json(action, include_config=True))


async def list_actions(request: Request) -> Response:
    """``GET /api/v2/integrations/actions`` → ``ActionEntityListing``."""
    registry = sandbox_of(request).integrations
    params = request.query_params
    name = (params.get("name") or "").casefold()
    ids = set(query_list(request, "ids"))
    if len(ids) > 50:
        raise BadRequest("At most 50 'ids' may be given.", code="invalid.query.param.value")
    sort_by = params.get("sortBy") or "name"
    if sort_by not in ("name", "category"):
        raise BadRequest("'sortBy' must be name or category.", code="invalid.query.param.value")
    actions = [
        a
        for a in registry.actions.values()
        if name in a.name.casefold()
        and (not ids or a.id in ids)
        and params.get("category") in (None, a.category)
        and params.get("secure", str(a.secure).lower()).lower() == str(a.secure).lower()
    ]
    actions.sort(
        key=lambda a: (getattr(a, sort_by).casefold(), a.name.casefold()),
        reverse=(params.get("sortOrder") or "").upper() == "DESC",
    )
    include = query_bool(request, "includeConfig")
    view: ContractView = "uris" if sandbox_of(request).config.contract_needs_expand else "stored"
    documents = [action_json(a, include_config=include, view=view) for a in actions]
    return JSONResponse(entity_listing(request, documents))


async def get_action(request: Request) -> Response:
    """``GET …/{actionId}``: ``expand=contract`` (its only value) brings the schemas."""
    sandbox = sandbox_of(request)
    action = sandbox.integrations.action(request.path_params["actionId"])
    expand = request.query_params.get("expand")
    if expand not in (None, "", "contract"):
        raise BadRequest("'expand' takes only 'contract'.", code="invalid.query.param.value")
    view: ContractView = "stored"
    if expand == "contract":
        view = "expanded"
    elif sandbox.config.contract_needs_expand:
        view = "uris"
    document = action_json(
        action,
        include_config=query_bool(request, "includeConfig"),
        view=view,
        flatten=query_bool(request, "flatten"),
    )
    return JSONResponse(document)


async def get_schema(request: Request) -> Response:
    """``GET …/{actionId}/schemas/{fileName}`` → ``JsonSchemaDocument`` (file names: the URIs)."""
    action = sandbox_of(request).integrations.action(request.path_params["actionId"])
    document = schema_document(action.id, action.contract, request.path_params["fileName"])
    return JSONResponse(flattened_schema(document) if query_bool(request, "flatten") else document)


async def patch_action(request: Request) -> Response:
    """``PATCH /api/v2/integrations/actions/{actionId}`` (``UpdateActionInput``)."""
    registry = sandbox_of(request).integrations
    action = registry.action(request.path_params["actionId"])
    body = await read_object(request)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _invalid("'version' (the current action version) is required.")
    if version != action.version:
        raise Conflict(f"Version {version} is not the current version {action.version}.")
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"]:
            raise _invalid("'name' must be a non-empty string.")
        _ensure_unique(registry, action.integration_id, body["name"], own=action.id)
        action.name = body["name"]
    if "category" in body:
        action.category = str(body["category"])
    if "config" in body:
        action.config = _validated_config(body["config"])
    action.version += 1
    return JSONResponse(action_json(action, include_config=True))


async def delete_action(request: Request) -> Response:
    registry = sandbox_of(request).integrations
    action = registry.action(request.path_params["actionId"])
    del registry.actions[action.id]
    return Response(status_code=204)


_ONE = "/api/v2/integrations/actions/{actionId}"
routes = [
    Route("/api/v2/integrations/actions", create_action, methods=["POST"]),
    Route("/api/v2/integrations/actions", list_actions, methods=["GET"]),
    Route(_ONE, get_action, methods=["GET"]),
    Route(_ONE, patch_action, methods=["PATCH"]),
    Route(_ONE, delete_action, methods=["DELETE"]),
    Route(f"{_ONE}/schemas/{{fileName}}", get_schema, methods=["GET"]),
    *execute_api.routes,
]
