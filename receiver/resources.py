"""The resources the lifespan owns, handed to request handlers through app state."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from receiver.actions.service import ActionRuns
from receiver.bridge.tracking import Tracking
from receiver.ingest.credentials import CallbackCredentials
from receiver.launches.flow_names import FlowNames
from receiver.launches.service import LaunchService
from receiver.launches.stops import StopList
from receiver.launches.sweep import Sweeper
from receiver.launches.tracker import LaunchTracker
from receiver.settings import Settings
from receiver.telemetry.genesys_check import GenesysCheck
from receiver.telemetry.metrics import Metrics
from receiver.telemetry.readiness import Readiness
from receiver.web.access import ApiKeys
from receiver.webhooks.service import Webhooks
from storage.audit import AuditStore
from storage.flows import FlowStore
from storage.history import HistoryStore
from storage.launches import LaunchStore
from storage.migrations import SchemaStore
from storage.queries import EventStore
from storage.writer import EventWriter


@dataclass(frozen=True)
class Services:
    """Everything a request handler may use; built once per app start.

    The stores are the database for handlers: each query awaited, run in a thread.
    """

    settings: Settings
    writer: EventWriter
    callback_credentials: CallbackCredentials
    api_keys: ApiKeys
    tracker: LaunchTracker
    launches: LaunchService
    stops: StopList
    sweeper: Sweeper
    launch_store: LaunchStore
    event_store: EventStore
    history_store: HistoryStore
    flow_store: FlowStore
    flow_names: FlowNames
    schema_store: SchemaStore
    audit_store: AuditStore
    metrics: Metrics
    readiness: Readiness
    genesys_check: GenesysCheck
    webhooks: Webhooks
    tracking: Tracking
    action_runs: ActionRuns


def services(request: Request) -> Services:
    """The running app's services."""
    found: Services = request.app.state.services
    return found
