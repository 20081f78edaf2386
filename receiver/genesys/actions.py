"""Data actions of an integration (genesys-api.md §10.2, ``apis/integrations_api.py``).

``contract`` and ``config`` are kept as the JSON Genesys sent, since registration
compares and rewrites them whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from receiver.genesys import wire
from receiver.genesys.errors import CORRELATION_HEADER, GenesysBadResponse
from receiver.genesys.page import Page
from receiver.genesys.session import ApiSession, segment
from receiver.genesys.wire import JSONObject


@dataclass(frozen=True, slots=True)
class DataAction:
    """An ``Action`` of a data action integration.

    ``version`` is the optimistic-concurrency counter PATCH requires. ``config`` is
    only present when the action was read with ``includeConfig``.
    """

    id: str
    name: str | None = None
    integration_id: str | None = None
    category: str | None = None
    version: int | None = None
    secure: bool | None = None
    contract: JSONObject = field(default_factory=dict)
    config: JSONObject = field(default_factory=dict)
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSONObject) -> DataAction:
        return cls(
            id=wire.required_text(data, "id"),
            name=wire.text(data, "name"),
            integration_id=wire.text(data, "integrationId"),
            category=wire.text(data, "category"),
            version=wire.integer(data, "version"),
            secure=wire.boolean(data, "secure"),
            contract=wire.mapping(data, "contract"),
            config=wire.mapping(data, "config"),
            raw=data,
        )

    @property
    def request_url_template(self) -> str | None:
        return wire.text(wire.mapping(self.config, "request"), "requestUrlTemplate")

    @property
    def timeout_seconds(self) -> int:
        """``config.timeoutSeconds``: 1 to 60, 60 when unset (genesys-api.md §16.C.3)."""
        value = wire.integer(self.config, "timeoutSeconds")
        return value if value is not None and 1 <= value <= 60 else DEFAULT_TIMEOUT_SECONDS

    @property
    def input_schema(self) -> JSONObject:
        """``contract.input.inputSchema`` (read with ``expand=contract``)."""
        return wire.mapping(wire.mapping(self.contract, "input"), "inputSchema")

    @property
    def success_schema(self) -> JSONObject:
        """``contract.output.successSchema`` (read with ``expand=contract``)."""
        return wire.mapping(wire.mapping(self.contract, "output"), "successSchema")


#: What Genesys enforces when an action sets no ``timeoutSeconds``.
DEFAULT_TIMEOUT_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer of an ``execute`` or ``test``: its JSON body and correlation id."""

    body: Any
    correlation_id: str | None


class ActionsApi:
    """``/api/v2/integrations/actions``: find, read, create and patch actions."""

    def __init__(self, session: ApiSession) -> None:
        self._session = session

    async def list(
        self,
        *,
        name: str | None = None,
        category: str | None = None,
        include_config: bool = False,
        page_number: int = 1,
        page_size: int = 100,
    ) -> Page[DataAction]:
        """One page of actions (``get_integrations_actions``).

        Genesys matches ``name`` partially: compare names exactly on the result.
        """
        params: dict[str, str | int] = {"pageNumber": page_number, "pageSize": page_size}
        if name is not None:
            params["name"] = name
        if category is not None:
            params["category"] = category
        if include_config:
            params["includeConfig"] = "true"
        return await self._session.fetch(
            "GET", "/api/v2/integrations/actions", _action_page, params=params
        )

    async def get(self, action_id: str, *, include_config: bool = True) -> DataAction:
        """One action with its contract and, by default, its config
        (``get_integrations_action``)."""
        path = f"/api/v2/integrations/actions/{segment(action_id)}"
        params = {"includeConfig": "true"} if include_config else None
        return await self._session.fetch("GET", path, DataAction.from_wire, params=params)

    async def get_with_contract(self, action_id: str) -> DataAction:
        """One action with its contract and config (``get_integrations_action`` with
        ``expand=contract``, ``includeConfig=true``)."""
        path = f"/api/v2/integrations/actions/{segment(action_id)}"
        params = {"expand": "contract", "includeConfig": "true"}
        return await self._session.fetch("GET", path, DataAction.from_wire, params=params)

    async def execute(
        self, action_id: str, body: Mapping[str, Any], *, timeout_seconds: float
    ) -> ActionResult:
        """Run the action now (``post_integrations_action_execute``), once.

        Exactly one try (the caller decides what may be repeated: execute has side
        effects); a 429 still pauses this client's pacing. ``timeout_seconds`` must
        exceed the action's own timeout so that Genesys's answer is seen.
        """
        path = f"/api/v2/integrations/actions/{segment(action_id)}/execute"
        return await self._result(path, body, timeout_seconds)

    async def test(
        self, action_id: str, body: Mapping[str, Any], *, timeout_seconds: float
    ) -> ActionResult:
        """Run the action in test mode (``post_integrations_action_test``), once: the body
        is a ``TestExecutionResult`` (``operations``, ``success``, ``finalResult``…)."""
        path = f"/api/v2/integrations/actions/{segment(action_id)}/test"
        return await self._result(path, body, timeout_seconds)

    async def _result(
        self, path: str, body: Mapping[str, Any], timeout_seconds: float
    ) -> ActionResult:
        response = await self._session.request(
            "POST",
            path,
            body=dict(body),
            retry_safe=False,
            read_timeout=timeout_seconds,
            max_attempts=1,
        )
        try:
            decoded = wire.decode(response)
        except ValueError as exc:
            raise GenesysBadResponse(
                f"Genesys POST {path} answered {response.status_code} with a body that is not JSON",
                http_status=response.status_code,
                correlation_id=response.headers.get(CORRELATION_HEADER),
            ) from exc
        return ActionResult(decoded, response.headers.get(CORRELATION_HEADER))

    async def create(
        self,
        *,
        name: str,
        integration_id: str,
        contract: Mapping[str, Any],
        config: Mapping[str, Any],
        category: str | None = None,
        secure: bool = False,
    ) -> DataAction:
        """Create a published action (``post_integrations_actions``, ``PostActionInput``).

        ``contract`` is ``{"input": {"inputSchema": …}, "output": {"successSchema": …}}``,
        ``config`` is ``{"timeoutSeconds", "request", "response"}``. Not repeated after a
        5xx (``GenesysOutcomeUnknown``): list by name and reconcile instead.
        """
        body: JSONObject = {
            "name": name,
            "integrationId": integration_id,
            "contract": dict(contract),
            "config": dict(config),
            "secure": secure,
        }
        if category is not None:
            body["category"] = category
        return await self._session.fetch(
            "POST", "/api/v2/integrations/actions", DataAction.from_wire, body=body
        )

    async def update(
        self,
        action_id: str,
        *,
        version: int,
        name: str | None = None,
        category: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> DataAction:
        """Patch name, category or config (``patch_integrations_action``).

        ``version`` is the action's current one. ``UpdateActionInput`` has no contract:
        a changed contract needs a new action. Not repeated after a 5xx (a replay of an
        applied patch would meet a newer version): re-read the action instead.
        """
        body: JSONObject = {"version": version}
        if name is not None:
            body["name"] = name
        if category is not None:
            body["category"] = category
        if config is not None:
            body["config"] = dict(config)
        path = f"/api/v2/integrations/actions/{segment(action_id)}"
        return await self._session.fetch("PATCH", path, DataAction.from_wire, body=body)


def _action_page(data: JSONObject) -> Page[DataAction]:
    return Page.from_wire(data, DataAction.from_wire)
