"""The application factory and the lifespan that owns every resource."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from receiver.actions.lifecycle import action_runs
from receiver.bridge.tracking import Tracking
from receiver.console.routes import console_routes
from receiver.genesys import GenesysClient
from receiver.ingest import endpoint as callbacks
from receiver.ingest.credentials import CallbackCredentials
from receiver.jobs.retention import Retention, RetentionPolicy
from receiver.jobs.rollups import RollupJob
from receiver.jobs.scheduler import JobScheduler
from receiver.launches.flow_names import FlowNames
from receiver.launches.service import LaunchService
from receiver.launches.stops import StopList
from receiver.launches.sweep import Sweeper, SweepPolicy
from receiver.launches.tracker import LaunchTracker
from receiver.logs import REQUEST_ID
from receiver.registration.register import register_on_startup
from receiver.resources import Services
from receiver.routes import CALLBACK_PATH, ROUTES, metrics_route
from receiver.settings import Settings
from receiver.telemetry.genesys_check import GenesysCheck
from receiver.telemetry.metrics import Metrics
from receiver.telemetry.readiness import Readiness
from receiver.web import request_ids
from receiver.web.access import ApiKeys
from receiver.web.responses import EXCEPTION_HANDLERS
from receiver.webhooks.service import Webhooks
from storage.audit import AuditStore
from storage.engine import make_engine
from storage.errors import StorageError
from storage.flows import FlowStore
from storage.history import HistoryStore
from storage.launches import LaunchStore
from storage.migrations import SchemaStore
from storage.queries import EventStore
from storage.retention import RetentionStore
from storage.rollups import RollupStore
from storage.sweeps import SweepStore
from storage.tallies import TallyStore
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.app")


class FlowtrackApp(Starlette):
    """Starlette, with the callback endpoint reached ahead of its middleware and router.

    Callbacks are nearly all the traffic; the router would find the same endpoint (its
    route stays for other spellings of the path and for the OpenAPI document), but the
    layers on the way cost as much CPU as storing the event.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request_id = request_ids.request_id(scope["headers"])
        # Each request runs in its own task: the id stays on this request's log lines.
        REQUEST_ID.set(request_id)
        if scope["path"] == CALLBACK_PATH and scope["method"] == "POST":
            # The hot path writes the header into its own answer (no wrapper per message).
            scope["app"] = self
            scope[request_ids.SCOPE_KEY] = request_id
            await callbacks.receive_callback(scope, receive, send)
            return
        await super().__call__(scope, receive, request_ids.echoing(send, request_id))


def create_app(settings: Settings) -> FlowtrackApp:
    """Build the flowtrack app for ``settings``; resources start with its lifespan."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        background_checkpoints = settings.sqlite_checkpoints == "background"
        engine = make_engine(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            # In the background, the writer's checkpointer copies the log back instead.
            sqlite_wal_autocheckpoint=0 if background_checkpoints else 1000,
        )
        launch_store, sweep_store = LaunchStore(engine), SweepStore(engine)
        tracker = LaunchTracker(launch_store)
        metrics = Metrics()
        tracking = Tracking(settings.tracking, engine, metrics.registry)
        writer = EventWriter(
            engine,
            max_batch_events=settings.writer_max_batch_events,
            on_stored=tracking.listening(tracker.notice),
            on_batch=metrics.writer_batch,
            checkpoints=background_checkpoints,
        )
        http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20)
        )
        genesys = (
            GenesysClient(settings.genesys, http, observer=metrics) if settings.genesys else None
        )
        launches = LaunchService(
            launch_store,
            writer,
            tracker,
            genesys,
            launch_id_input_key=settings.launch_id_input_key,
            default_timeout_seconds=settings.launch_timeout_seconds,
            flow_timeouts=settings.flow_timeouts,
            idle_timeout_seconds=settings.idle_timeout_seconds,
        )
        stops = StopList(sweep_store)
        sweeper = Sweeper(
            launch_store,
            sweep_store,
            writer,
            tracker,
            stops,
            genesys,
            SweepPolicy.from_settings(settings),
        )
        retention_policy = RetentionPolicy.from_settings(settings)
        retention = (
            Retention(RetentionStore(engine), retention_policy) if retention_policy else None
        )
        rollups = RollupJob(
            RollupStore(engine), settings.rollups, events_retention_days=settings.retention_days
        )
        jobs = JobScheduler.from_settings(
            settings,
            sweeper=sweeper,
            retention=retention,
            rollups=rollups if settings.rollups.enabled else None,
        )
        schema = SchemaStore(engine)
        readiness = Readiness(schema)
        genesys_check = GenesysCheck(genesys)
        metrics.writer, metrics.sweep = writer, sweeper.totals
        metrics.tallies = TallyStore(engine)
        writer.start()
        tracker.start()
        stops.start()
        jobs.start()
        webhooks = Webhooks.build(engine, settings.webhooks, metrics.registry)
        webhooks.start()
        tracking.start(writer, genesys)
        exits = contextlib.AsyncExitStack()
        runs = await exits.enter_async_context(
            action_runs(settings.actions, engine, genesys, metrics.registry)
        )
        app.state.services = Services(
            settings=settings,
            writer=writer,
            callback_credentials=CallbackCredentials.from_settings(settings),
            api_keys=ApiKeys(
                settings.api_keys, settings.api_read_keys, insecure=settings.insecure_api
            ),
            tracker=tracker,
            launches=launches,
            stops=stops,
            sweeper=sweeper,
            launch_store=launch_store,
            event_store=EventStore(engine),
            history_store=HistoryStore(engine),
            flow_store=FlowStore(engine),
            flow_names=FlowNames(genesys),
            schema_store=schema,
            audit_store=AuditStore(engine),
            metrics=metrics,
            readiness=readiness,
            genesys_check=genesys_check,
            webhooks=webhooks,
            tracking=tracking,
            action_runs=runs,
        )
        # Never fatal, and Genesys may be slow to answer: in the background.
        background: list[asyncio.Task[object]] = [asyncio.create_task(genesys_check.run())]
        if settings.register_on_start:
            # In the background: it waits for Genesys and for the registration lock.
            background.append(asyncio.create_task(register_on_startup(settings, genesys, engine)))
        # Logs app.ready or app.not_ready (naming the database). Not ready keeps serving:
        # /readyz says what is wrong, and it may heal (database restart). "app.started"
        # is uvicorn's line once the port is bound (receiver.logs).
        with contextlib.suppress(StorageError):
            await readiness.check()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            # Let in-flight sweeps and retention finish, then stop scheduling.
            await jobs.stop()
            await webhooks.stop()
            await tracking.stop()
            await stops.stop()
            await launches.close()
            await exits.aclose()
            await writer.aclose()
            await tracker.settled_or_timeout(5)
            await tracker.stop()
            await http.aclose()
            engine.dispose()
            metrics.callbacks.flush()
            log.info("flowtrack stopped", extra={"action": "app.stopped"})

    routes = [*ROUTES, metrics_route(settings.metrics_public), *console_routes(settings)]
    return FlowtrackApp(routes=routes, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
