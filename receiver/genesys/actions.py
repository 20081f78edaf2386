"""Data actions of an integration (genesys-api.md §10.2, ``apis/integrations_api.py``).

``contract`` and ``config`` are kept as the JSON Genesys sent, since registration
compares and rewrites them whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from receiver.genesys import wire
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
