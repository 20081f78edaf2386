"""Building the data action runs' resources for the app's lifespan, and stopping them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from receiver.actions.catalog import ActionCatalog
from receiver.actions.limiter import OrgLimiter
from receiver.actions.runner import RunWorker
from receiver.actions.service import ActionRuns
from receiver.actions.telemetry import ActionMetrics
from receiver.genesys import GenesysClient
from receiver.settings.actions import ActionsConfig
from storage.action_runs import ActionRunStore


@asynccontextmanager
async def action_runs(
    config: ActionsConfig,
    engine: Engine,
    genesys: GenesysClient | None,
    registry: CollectorRegistry,
) -> AsyncIterator[ActionRuns]:
    """The runs service, its worker claiming runs while the app runs.

    Without Genesys credentials there is nothing to execute with: no worker runs (runs
    cannot be created either; queued ones wait for a configured replica).
    """
    store = ActionRunStore(engine)
    catalog = ActionCatalog(
        genesys,
        contract_ttl_seconds=config.contract_ttl_seconds,
        list_ttl_seconds=config.list_ttl_seconds,
    )
    limiter = OrgLimiter(config.concurrency, config.per_minute)
    worker = RunWorker(store, catalog, limiter, config, ActionMetrics(registry))
    if genesys is not None:
        worker.start()
    try:
        yield ActionRuns(store, catalog, worker, config)
    finally:
        await worker.stop()
