"""Execution data: the org setting, and every finished run's logged execution record.

A run produces execution data (genesys-api.md §5.1, §16.B) only when the org's setting
is on, its flow was published after the setting was switched on, and its flow file does
not say ``execution_data: false``. The built-in sample org switched it on a day before
its flows were published. Switching it on later (``PATCH``) helps no flow already
published: Genesys wants them republished, and the sandbox republishes nothing.

A finished run is *logged* ``execution_data_delay_seconds`` after it ends: from then on
it is an instance the query finds and a job downloads, and its
``v2.flows.instances.flow.{flowId}`` message is pushed (no data, no message). It is kept
``execution_data_retention_seconds`` (10 days) after it ended, then gone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.background import Background
from sandbox.config import SandboxConfig
from sandbox.executions import Execution
from sandbox.flows import FlowDefinition
from sandbox.history_downloads import DownloadSigner
from sandbox.history_record import execution_record
from sandbox.messages import execution_history_body, instances_topic
from sandbox.notifications import NotificationHub
from sandbox.stats import Stats
from sandbox.timestamps import iso, utc_now
from sandbox.wire import drop_none

SETTING_ID = "executiondata"
SETTING_URI = "/api/v2/flows/instances/settings/executiondata"


@dataclass
class ExecutionDataSetting:
    """``ExecutionDataFlowSettingsResponse``."""

    enabled: bool
    date_modified: datetime
    modified_by_client: str | None = None

    def to_json(self) -> dict[str, Any]:
        client = None
        if self.modified_by_client:
            client = {
                "id": self.modified_by_client,
                "selfUri": f"/api/v2/oauth/clients/{self.modified_by_client}",
            }
        return drop_none(
            {
                "id": SETTING_ID,
                "name": "Execution Data",
                "enabled": self.enabled,
                "modifiedByClient": client,
                "dateModified": iso(self.date_modified),
                "selfUri": SETTING_URI,
            }
        )


@dataclass
class Instance:
    """One logged run."""

    execution: Execution
    ended_at: datetime
    exit_reason: str
    logged_at: datetime = field(default_factory=utc_now)

    @property
    def id(self) -> str:
        # The sandbox's choice: the instance id is the execution id (unconfirmed, §5.2).
        return self.execution.id

    def record(self) -> dict[str, Any]:
        return execution_record(self.execution, self.ended_at, self.exit_reason)

    def values(self) -> dict[str, list[Any]]:
        """What each criteria key sees in this instance (:mod:`sandbox.history_query`)."""
        execution, trail = self.execution, self.execution.trail
        flow = execution.flow
        types = {item["objectId"]: item["objectType"] for item in trail}
        paths = [(item, item["outputPathId"]) for item in trail if "outputPathId" in item]
        return {
            "FlowStartDateTime": [execution.launched_at],
            "FlowEndDateTime": [self.ended_at],
            "ConversationId": [execution.conversation_id] if execution.conversation_id else [],
            "FlowType": [flow.type],
            "FlowId": [flow.id],
            "FlowErrorReason": [item["error"]["reason"] for item in trail if "error" in item],
            "FlowObjectExecutionId": [item["executionId"] for item in trail],
            "FlowActionId": list(types),
            "FlowActionType": list(types.values()),
            "FlowActionOutputPathId": [path for _, path in paths],
            "FlowActionOutputPathName": [path for _, path in paths],
            "FlowActionIdOutputPathId": [f"{i['objectId']}:{p}" for i, p in paths],
            "FlowActionTypeOutputPathId": [f"{i['objectType']}:{p}" for i, p in paths],
        }

    def query_json(self) -> dict[str, Any]:
        """``FlowExecutionDataQueryResult``."""
        execution = self.execution
        errors = [item["error"]["reason"] for item in execution.trail if "error" in item]
        return drop_none(
            {
                "id": self.id,
                "name": execution.name,
                "startDateTime": iso(execution.launched_at),
                "endDateTime": iso(self.ended_at),
                "flowId": execution.flow.id,
                "flowVersion": execution.flow.version,
                "conversationId": execution.conversation_id,
                "flowType": execution.flow.type,
                "flowErrorReason": errors[0] if errors else None,
                "flowName": execution.flow.name,
                "selfUri": f"/api/v2/flows/instances/{self.id}",
            }
        )


class HistoryLog:
    """The org's execution-data setting and its logged instances."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        hub: NotificationHub,
        stats: Stats,
        background: Background,
        published_at: datetime,
    ) -> None:
        self._config = config
        self._hub = hub
        self._stats = stats
        self._background = background
        self._published_at = published_at
        self.setting = ExecutionDataSetting(config.execution_data, published_at - timedelta(1))
        self.signer = DownloadSigner(config.execution_data_download_ttl_seconds)
        self.instances: dict[str, Instance] = {}
        self._retention = timedelta(seconds=config.execution_data_retention_seconds)
        #: Base of the links in pushed messages; learned from requests unless configured.
        self.base_url = (config.public_base_url or "http://127.0.0.1").rstrip("/")

    def records(self, flow: FlowDefinition) -> bool:
        """Whether runs of ``flow`` produce execution data now."""
        setting = self.setting
        return (
            setting.enabled and flow.execution_data and setting.date_modified <= self._published_at
        )

    def change(self, enabled: bool, client_id: str) -> ExecutionDataSetting:
        """``PATCH`` the setting (only a change of value moves ``dateModified``)."""
        if enabled != self.setting.enabled:
            self.setting = ExecutionDataSetting(enabled, utc_now(), client_id)
        return self.setting

    def log(self, execution: Execution, ended_at: datetime, exit_reason: str) -> None:
        """A run ended: log it (now or after the configured delay) if it has data."""
        if not self.records(execution.flow):
            self._stats.incr("history.not_recorded")
            return
        instance = Instance(execution, ended_at, exit_reason)
        delay = self._config.execution_data_delay_seconds
        if delay <= 0:
            self._store(instance)
        else:
            self._background.spawn(
                self._store_later(instance, delay), name=f"sandbox-history-{execution.id}"
            )

    async def _store_later(self, instance: Instance, delay: float) -> None:
        await asyncio.sleep(delay)
        self._store(instance)

    def _store(self, instance: Instance) -> None:
        instance.logged_at = utc_now()
        self.instances[instance.id] = instance
        self._stats.incr("history.logged")
        execution = instance.execution
        body = execution_history_body(
            execution,
            instance.ended_at,
            exit_reason=instance.exit_reason,
            max_items=self._config.notification_max_items,
            history_uri=self.signer.uri(self.base_url, instance.id),
            history_uri_ttl=self.signer.ttl_seconds,
        )
        if body["executionItemsTruncated"]:
            self._stats.incr("history.truncated_messages")
        self._hub.publish(instances_topic(execution.flow.id), body)

    def kept(self) -> list[Instance]:
        """The logged instances still within retention (older ones are dropped here)."""
        cutoff = utc_now() - self._retention
        for instance_id in [i.id for i in self.instances.values() if i.ended_at < cutoff]:
            del self.instances[instance_id]
            self._stats.incr("history.expired")
        return list(self.instances.values())

    def find(self, instance_id: str) -> Instance | None:
        """A logged instance within retention, or None."""
        instance = self.instances.get(instance_id)
        if instance is not None and instance.ended_at < utc_now() - self._retention:
            self.kept()
            return None
        return instance

    def clear(self) -> None:
        self.instances.clear()
