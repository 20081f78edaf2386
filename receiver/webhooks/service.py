"""Outbound webhooks as the app holds them: the stores, the settings, the worker."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from receiver.settings.webhooks import WebhooksConfig
from receiver.webhooks.addresses import UrlPolicy
from receiver.webhooks.metrics import WebhookMetrics
from receiver.webhooks.sender import Sender
from receiver.webhooks.worker import DeliveryWorker
from storage.deliveries import DeliveryStore
from storage.webhooks import WebhookStore


@dataclass(frozen=True)
class Webhooks:
    """What the webhook API handlers use; ``worker`` is None where delivery is off."""

    store: WebhookStore
    config: WebhooksConfig
    policy: UrlPolicy
    worker: DeliveryWorker | None

    @classmethod
    def build(cls, engine: Engine, config: WebhooksConfig, registry: CollectorRegistry) -> Webhooks:
        """The stores, and a worker unless ``FLOWTRACK_WEBHOOKS_DELIVERY=0``."""
        policy = UrlPolicy(allow_http=config.allow_http, allow_private=config.allow_private)
        metrics = WebhookMetrics(registry)
        worker = None
        if config.delivery:
            sender = Sender(
                policy, timeout_seconds=config.timeout_seconds, per_host=config.endpoint_concurrency
            )
            worker = DeliveryWorker(DeliveryStore(engine), sender, config, metrics)
        return cls(WebhookStore(engine), config, policy, worker)

    def start(self) -> None:
        """Start delivering (where this process delivers)."""
        if self.worker is not None:
            self.worker.start()

    async def stop(self) -> None:
        """Stop delivering; attempts in flight finish first."""
        if self.worker is not None:
            await self.worker.stop()

    def nudge(self) -> None:
        """A message was just written: send it without waiting for the next poll."""
        if self.worker is not None:
            self.worker.nudge()
