"""Integrations and their credentials, as registration needs them (design.md §3).

flowtrack's callback is a Web Services data action integration (genesys-api.md §10):
an integration of type ``custom-rest-actions`` whose current configuration points at
a credential. Calls: ``apis/integrations_api.py``; wire models ``Integration``,
``IntegrationConfiguration``, ``Credential`` / ``CredentialInfo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from receiver.genesys import wire
from receiver.genesys.page import Page
from receiver.genesys.session import ApiSession, segment
from receiver.genesys.wire import JSONObject

#: ``integrationType.id`` of "Web Services Data Actions". Not in genesys-api.md; taken
#: from public Terraform configurations of Genesys' own provider.
WEB_SERVICES_INTEGRATION_TYPE: Final = "custom-rest-actions"


@dataclass(frozen=True, slots=True)
class Integration:
    """An installed integration. ``reported_state`` is ``reportedState.code``
    (``ACTIVE``, ``ACTIVATING``, ``INACTIVE``, ``DEACTIVATING``, ``ERROR``)."""

    id: str
    name: str | None = None
    integration_type: str | None = None
    intended_state: str | None = None
    reported_state: str | None = None
    notes: str | None = None
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSONObject) -> Integration:
        return cls(
            id=wire.required_text(data, "id"),
            name=wire.text(data, "name"),
            integration_type=wire.ref_id(data, "integrationType"),
            intended_state=wire.text(data, "intendedState"),
            reported_state=wire.text(wire.mapping(data, "reportedState"), "code"),
            notes=wire.text(data, "notes"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """A stored credential, without its fields (those are secrets and never read back)."""

    id: str
    name: str | None = None
    type_name: str | None = None
    created_date: datetime | None = None
    modified_date: datetime | None = None

    @classmethod
    def from_wire(cls, data: JSONObject) -> CredentialInfo:
        return cls(
            id=wire.required_text(data, "id"),
            name=wire.text(data, "name"),
            type_name=wire.text(wire.mapping(data, "type"), "name"),
            created_date=wire.timestamp(data, "createdDate"),
            modified_date=wire.timestamp(data, "modifiedDate"),
        )


@dataclass(frozen=True, slots=True)
class IntegrationConfig:
    """``IntegrationConfiguration``. ``version`` must be sent back unchanged on update.

    ``credentials`` maps the credential slot name (e.g. ``basicAuth``) to the credential.
    """

    version: int | None
    name: str | None = None
    notes: str | None = None
    properties: JSONObject = field(default_factory=dict)
    advanced: JSONObject = field(default_factory=dict)
    credentials: dict[str, CredentialInfo] = field(default_factory=dict)
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSONObject) -> IntegrationConfig:
        credentials = {}
        for slot, value in wire.mapping(data, "credentials").items():
            if isinstance(value, dict) and isinstance(value.get("id"), str):
                credentials[slot] = CredentialInfo.from_wire(value)
        return cls(
            version=wire.integer(data, "version"),
            name=wire.text(data, "name"),
            notes=wire.text(data, "notes"),
            properties=wire.mapping(data, "properties"),
            advanced=wire.mapping(data, "advanced"),
            credentials=credentials,
            raw=data,
        )


class IntegrationsApi:
    """``/api/v2/integrations``: installed integrations, their config, credentials."""

    def __init__(self, session: ApiSession) -> None:
        self._session = session

    async def list(
        self, *, integration_type: str | None = None, page_number: int = 1, page_size: int = 100
    ) -> Page[Integration]:
        """One page of installed integrations (``get_integrations``)."""
        params: dict[str, str | int] = {"pageNumber": page_number, "pageSize": page_size}
        if integration_type is not None:
            params["integrationType"] = integration_type
        return await self._session.fetch(
            "GET", "/api/v2/integrations", _integration_page, params=params
        )

    async def get(self, integration_id: str) -> Integration:
        """One integration (``get_integration``)."""
        path = f"/api/v2/integrations/{segment(integration_id)}"
        return await self._session.fetch("GET", path, Integration.from_wire)

    async def create(self, integration_type: str, *, name: str | None = None) -> Integration:
        """Install an integration, e.g. of ``WEB_SERVICES_INTEGRATION_TYPE``
        (``post_integrations``). Not repeated after a 5xx: list and reconcile instead."""
        body: JSONObject = {"integrationType": {"id": integration_type}}
        if name is not None:
            body["name"] = name
        return await self._session.fetch(
            "POST", "/api/v2/integrations", Integration.from_wire, body=body
        )

    async def update(
        self,
        integration_id: str,
        *,
        intended_state: str | None = None,
        name: str | None = None,
        notes: str | None = None,
    ) -> Integration:
        """Change ``intendedState`` (``ENABLED``, ``DISABLED``), name or notes
        (``patch_integration``)."""
        changes = {"intendedState": intended_state, "name": name, "notes": notes}
        body = {key: value for key, value in changes.items() if value is not None}
        path = f"/api/v2/integrations/{segment(integration_id)}"
        # Setting the same fields twice ends in the same state: safe to repeat.
        return await self._session.fetch(
            "PATCH", path, Integration.from_wire, body=body, retry_safe=True
        )

    async def get_config(self, integration_id: str) -> IntegrationConfig:
        """The current configuration (``get_integration_config_current``)."""
        path = f"/api/v2/integrations/{segment(integration_id)}/config/current"
        return await self._session.fetch("GET", path, IntegrationConfig.from_wire)

    async def update_config(
        self,
        integration_id: str,
        *,
        name: str,
        version: int,
        properties: Mapping[str, Any] | None = None,
        advanced: Mapping[str, Any] | None = None,
        notes: str | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> IntegrationConfig:
        """Replace the configuration (``put_integration_config_current``).

        ``version`` is the one read last (Genesys refuses a stale one, expected 409);
        ``credentials`` maps a slot name such as ``basicAuth`` to a credential id.
        """
        body: JSONObject = {
            "name": name,
            "version": version,
            "properties": dict(properties or {}),
            "advanced": dict(advanced or {}),
            "credentials": {slot: {"id": cid} for slot, cid in (credentials or {}).items()},
        }
        if notes is not None:
            body["notes"] = notes
        path = f"/api/v2/integrations/{segment(integration_id)}/config/current"
        return await self._session.fetch("PUT", path, IntegrationConfig.from_wire, body=body)

    async def list_credentials(
        self, *, after: str | None = None, page_size: int = 100
    ) -> Page[CredentialInfo]:
        """One page of credentials (``get_integrations_credentials_listing``; the older
        ``GET /api/v2/integrations/credentials`` is deprecated in the SDK). Continue with
        ``after=page.next_cursor``."""
        params: dict[str, str | int] = {"pageSize": page_size}
        if after is not None:
            params["after"] = after
        return await self._session.fetch(
            "GET", "/api/v2/integrations/credentials/listing", _credential_page, params=params
        )

    async def create_credential(
        self, name: str, credential_type: str, fields: Mapping[str, str]
    ) -> CredentialInfo:
        """Store a credential of a type such as ``userDefined`` or ``basicAuth``
        (``post_integrations_credentials``). ``fields`` are secrets: sent, never logged."""
        body = _credential_body(name, credential_type, fields)
        return await self._session.fetch(
            "POST", "/api/v2/integrations/credentials", CredentialInfo.from_wire, body=body
        )

    async def update_credential(
        self, credential_id: str, name: str, credential_type: str, fields: Mapping[str, str]
    ) -> CredentialInfo:
        """Replace a credential (``put_integrations_credential``)."""
        body = _credential_body(name, credential_type, fields)
        path = f"/api/v2/integrations/credentials/{segment(credential_id)}"
        return await self._session.fetch("PUT", path, CredentialInfo.from_wire, body=body)


def _integration_page(data: JSONObject) -> Page[Integration]:
    return Page.from_wire(data, Integration.from_wire)


def _credential_page(data: JSONObject) -> Page[CredentialInfo]:
    return Page.from_wire(data, CredentialInfo.from_wire)


def _credential_body(name: str, credential_type: str, fields: Mapping[str, str]) -> JSONObject:
    return {"name": name, "type": {"name": credential_type}, "credentialFields": dict(fields)}
