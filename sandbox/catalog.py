"""The flows the sandbox knows, served as the real ``Flow`` / ``FlowVersion`` models."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sandbox.errors import NotFound
from sandbox.flows import FlowDefinition
from sandbox.timestamps import iso

HOME_DIVISION_ID = "d62836e8-0000-4000-8000-000000000001"


def division_ref() -> dict[str, Any]:
    return {
        "id": HOME_DIVISION_ID,
        "name": "Home",
        "selfUri": f"/api/v2/authorization/divisions/{HOME_DIVISION_ID}",
    }


class FlowCatalog:
    """Published flows by id, in file order."""

    def __init__(self, flows: Sequence[FlowDefinition], published_at: datetime) -> None:
        self._flows = {flow.id: flow for flow in flows}
        self._published_at = published_at

    def __iter__(self) -> Iterator[FlowDefinition]:
        return iter(self._flows.values())

    def get(self, flow_id: str) -> FlowDefinition:
        flow = self._flows.get(flow_id)
        if flow is None:
            raise NotFound(f"Flow {flow_id} was not found.")
        return flow

    def find(self, flow_id: str) -> FlowDefinition | None:
        return self._flows.get(flow_id)

    def version_json(self, flow: FlowDefinition) -> dict[str, Any]:
        """``FlowVersion`` of the published version."""
        return {
            "id": flow.version,
            "name": flow.version,
            "commitVersion": flow.version,
            "configurationVersion": flow.version,
            "type": "PUBLISH",
            "secure": False,
            "debug": False,
            "datePublished": iso(self._published_at),
            "selfUri": f"/api/v2/flows/{flow.id}/versions/{flow.version}",
        }

    def flow_json(self, flow: FlowDefinition) -> dict[str, Any]:
        """``Flow``: the type is upper case here, as in the SDK's ``Flow.type`` enum."""
        return {
            "id": flow.id,
            "name": flow.name,
            "description": flow.description,
            "division": division_ref(),
            "type": flow.type.upper(),
            "active": True,
            "system": False,
            "deleted": False,
            "publishedVersion": self.version_json(flow),
            "selfUri": f"/api/v2/flows/{flow.id}",
        }
