"""The application factory and the lifespan that owns every resource."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from receiver import api, callbacks, health
from receiver import launches as launches_api
from receiver.apikeys import ApiKeys
from receiver.credentials import CallbackCredentials
from receiver.genesys import GenesysClient
from receiver.launches import LaunchService
from receiver.responses import EXCEPTION_HANDLERS
from receiver.services import Services
from receiver.settings import Settings
from receiver.tracker import LaunchTracker
from storage.engine import make_engine
from storage.errors import StorageError
from storage.migrations import check_ready
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.app")


def create_app(settings: Settings) -> Starlette:
    """Build the flowtrack app for ``settings``; resources start with its lifespan."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )
        tracker = LaunchTracker(engine)
        writer = EventWriter(
            engine, max_batch_events=settings.writer_max_batch_events, on_stored=tracker.notice
        )
        http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20)
        )
        genesys = GenesysClient(settings.genesys, http) if settings.genesys else None
        launches = LaunchService(
            engine,
            writer,
            tracker,
            genesys,
            launch_id_input_key=settings.launch_id_input_key,
            default_timeout_seconds=settings.launch_timeout_seconds,
        )
        writer.start()
        tracker.start()
        app.state.services = Services(
            settings=settings,
            engine=engine,
            writer=writer,
            callback_credentials=CallbackCredentials.from_settings(settings),
            api_keys=ApiKeys(
                settings.api_keys, settings.api_read_keys, insecure=settings.insecure_api
            ),
            tracker=tracker,
            launches=launches,
        )
        try:
            revision = await run_in_threadpool(check_ready, engine)
        except StorageError as exc:
            # Keep serving: /readyz says what is wrong, and it may heal (database restart).
            log.warning(str(exc), extra={"action": "app.not_ready"})
        else:
            log.info(
                "flowtrack started",
                extra={
                    "action": "app.started",
                    "database": engine.url.render_as_string(hide_password=True),
                    "migration": revision,
                },
            )
        try:
            yield
        finally:
            await launches.close()
            await run_in_threadpool(writer.close)
            await tracker.settled_or_timeout(5)
            await tracker.stop()
            await http.aclose()
            engine.dispose()
            log.info("flowtrack stopped", extra={"action": "app.stopped"})

    routes = [
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/webhooks/genesys", callbacks.receive_callback, methods=["POST"]),
        Route("/api/v1/events", api.get_events, methods=["GET"]),
        Route("/api/v1/dead-letters", api.get_dead_letters, methods=["GET"]),
        Route("/api/v1/launches", launches_api.post_launch, methods=["POST"]),
        Route("/api/v1/launches", launches_api.get_launches, methods=["GET"]),
        Route("/api/v1/launches/{launch_id}", launches_api.get_launch, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
