"""Integrations, their credentials and data actions (genesys-api.md §10).

The records here are what flowtrack registers: a Web Services Data Actions integration
(type ``custom-rest-actions``), a credential it references from
``config.current.credentials``, and actions whose ``config.request`` says where a Call Data
Action step posts. :meth:`IntegrationRegistry.callback_actions` is how the flow engine
finds them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.action_contract import ContractView, contract_json
from sandbox.errors import NotFound
from sandbox.timestamps import iso, utc_now

WEB_SERVICES_TYPE = "custom-rest-actions"
INTEGRATION_TYPES = {
    WEB_SERVICES_TYPE: ("Web Services Data Actions", "Call third-party web services from flows"),
    "purecloud-data-actions": ("Genesys Cloud Data Actions", "Call the Genesys Cloud API"),
}
CREDENTIAL_TYPES = frozenset({"basicAuth", "userDefined", "userDefinedOAuth"})


@dataclass
class Credential:
    id: str
    name: str
    type_name: str
    fields: dict[str, str]
    created: datetime = field(default_factory=utc_now)
    modified: datetime = field(default_factory=utc_now)

    def info_json(self) -> dict[str, Any]:
        """``CredentialInfo`` (never the secret fields)."""
        return {
            "id": self.id,
            "name": self.name,
            "createdDate": iso(self.created),
            "modifiedDate": iso(self.modified),
            "type": {"name": self.type_name},
            "selfUri": f"/api/v2/integrations/credentials/{self.id}",
        }

    def to_json(self) -> dict[str, Any]:
        """``Credential``."""
        return {
            "id": self.id,
            "name": self.name,
            "type": {"name": self.type_name},
            "credentialFields": dict(self.fields),
            "selfUri": f"/api/v2/integrations/credentials/{self.id}",
        }


@dataclass
class Integration:
    id: str
    name: str
    type_id: str
    intended_state: str = "DISABLED"
    config_version: int = 1
    properties: dict[str, Any] = field(default_factory=dict)
    advanced: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    #: credential key (e.g. ``basicAuth``) -> credential id
    credentials: dict[str, str] = field(default_factory=dict)
    updated: datetime = field(default_factory=utc_now)
    #: Its actions are candidates for flows' Call Data Action steps (the sample
    #: integration's are not: in Genesys a step names its action explicitly).
    callbacks: bool = True


@dataclass
class Action:
    id: str
    name: str
    integration_id: str
    category: str
    contract: dict[str, Any]
    config: dict[str, Any]
    secure: bool = False
    version: int = 1

    @property
    def request_url(self) -> str:
        request = self.config.get("request") or {}
        return str(request.get("requestUrlTemplate") or "")


class IntegrationRegistry:
    """The org's integrations, credentials and actions."""

    def __init__(self) -> None:
        self.integrations: dict[str, Integration] = {}
        self.credentials: dict[str, Credential] = {}
        self.actions: dict[str, Action] = {}

    def add_integration(self, name: str | None, type_id: str) -> Integration:
        integration_id = str(uuid.uuid4())
        integration = Integration(integration_id, name or INTEGRATION_TYPES[type_id][0], type_id)
        self.integrations[integration_id] = integration
        return integration

    def integration(self, integration_id: str) -> Integration:
        found = self.integrations.get(integration_id)
        if found is None:
            raise NotFound(f"Integration {integration_id} was not found.")
        return found

    def remove_integration(self, integration_id: str) -> Integration:
        integration = self.integration(integration_id)
        del self.integrations[integration_id]
        for action_id in [
            a.id for a in self.actions.values() if a.integration_id == integration_id
        ]:
            del self.actions[action_id]
        return integration

    def credential(self, credential_id: str) -> Credential:
        found = self.credentials.get(credential_id)
        if found is None:
            raise NotFound(f"Credential {credential_id} was not found.")
        return found

    def add_credential(self, name: str, type_name: str, fields: dict[str, str]) -> Credential:
        credential = Credential(str(uuid.uuid4()), name, type_name, fields)
        self.credentials[credential.id] = credential
        return credential

    def action(self, action_id: str) -> Action:
        found = self.actions.get(action_id)
        if found is None:
            raise NotFound(f"Action {action_id} was not found.")
        return found

    def add_action(self, action: Action) -> Action:
        self.actions[action.id] = action
        return action

    def credentials_for(self, integration_id: str) -> list[Credential]:
        integration = self.integrations.get(integration_id)
        if integration is None:
            return []
        ids = integration.credentials.values()
        return [self.credentials[i] for i in ids if i in self.credentials]

    def callback_actions(self, name: str | None) -> list[Action]:
        """The actions a flow's Call Data Action steps call, in creation order.

        Candidates are actions of an ENABLED Web Services integration (other than the
        sample actions' one) whose ``config.request.requestUrlTemplate`` is set. With
        ``name`` (the flow's ``data_action``) only the candidate of that name
        (case-insensitive) is used; without it every candidate is called, one after the
        other.
        """
        candidates = []
        for action in self.actions.values():
            integration = self.integrations.get(action.integration_id)
            if integration is None or integration.type_id != WEB_SERVICES_TYPE:
                continue
            if not integration.callbacks:
                continue
            if integration.intended_state != "ENABLED" or not action.request_url:
                continue
            if name is None or action.name.casefold() == name.casefold():
                candidates.append(action)
        return candidates

    def clear(self) -> None:
        self.integrations.clear()
        self.credentials.clear()
        self.actions.clear()


def integration_json(registry: IntegrationRegistry, integration: Integration) -> dict[str, Any]:
    """``Integration`` with its current configuration."""
    type_name, type_description = INTEGRATION_TYPES[integration.type_id]
    active = integration.intended_state == "ENABLED"
    return {
        "id": integration.id,
        "name": integration.name,
        "integrationType": {
            "id": integration.type_id,
            "name": type_name,
            "description": type_description,
            "provider": "genesys",
            "category": "Data Actions",
            "selfUri": f"/api/v2/integrations/types/{integration.type_id}",
        },
        "notes": integration.notes,
        "intendedState": integration.intended_state,
        "config": {"current": config_json(registry, integration)},
        "reportedState": {
            "code": "ACTIVE" if active else "INACTIVE",
            "effective": "Active" if active else "Inactive",
            "lastUpdated": iso(integration.updated),
        },
        "attributes": {},
        "selfUri": f"/api/v2/integrations/{integration.id}",
    }


def config_json(registry: IntegrationRegistry, integration: Integration) -> dict[str, Any]:
    """``IntegrationConfiguration`` (credentials as ``CredentialInfo`` references)."""
    credentials = {
        key: registry.credentials[cid].info_json()
        if cid in registry.credentials
        else {"id": cid, "selfUri": f"/api/v2/integrations/credentials/{cid}"}
        for key, cid in integration.credentials.items()
    }
    return {
        "id": integration.id,
        "name": integration.name,
        "version": integration.config_version,
        "properties": integration.properties,
        "advanced": integration.advanced,
        "notes": integration.notes,
        "credentials": credentials,
        "selfUri": f"/api/v2/integrations/{integration.id}/config/current",
    }


def action_json(
    action: Action,
    *,
    include_config: bool,
    view: ContractView = "stored",
    flatten: bool = False,
) -> dict[str, Any]:
    """``Action``; ``config`` only with ``includeConfig=true``, as upstream.

    ``view`` says how much of the contract to show
    (:func:`~sandbox.action_contract.contract_json`).
    """
    document: dict[str, Any] = {
        "id": action.id,
        "name": action.name,
        "integrationId": action.integration_id,
        "category": action.category,
        "contract": contract_json(action.id, action.contract, view=view, flatten=flatten),
        "version": action.version,
        "secure": action.secure,
        "selfUri": f"/api/v2/integrations/actions/{action.id}",
    }
    if include_config:
        document["config"] = action.config
    return document
