"""Registering flowtrack with Genesys Cloud (design.md §3, genesys-api.md §10).

Genesys has no outbound webhook resource: a flow reports to flowtrack by calling a Web
Services data action from a Call Data Action step. Registration keeps three resources in
step with flowtrack's settings (details: :mod:`receiver.registration.spec`):

- the integration ``flowtrack`` (type ``custom-rest-actions``), enabled;
- its ``userDefined`` credential holding the first of ``FLOWTRACK_CALLBACK_TOKENS`` as
  field ``token``, in the integration's credential slot;
- the action ``flowtrack — report flow event``: POST ``${input.rawRequest}`` (the
  canonical callback body) to ``{FLOWTRACK_PUBLIC_URL}/webhooks/genesys`` with
  ``Authorization: Bearer ${credentials.token}``; its output carries ``command``.

Each is found by name, created when missing, updated in place when it differs, never
duplicated: the work runs under a database lock shared by every replica and looks
everything up again inside it. Entry points: :func:`register` (any caller),
:func:`register_from_settings` (``flowtrack register``), :func:`register_on_startup`
(the app's lifespan).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

import httpx
from sqlalchemy import Engine

from receiver.errors import FlowtrackError
from receiver.genesys import GenesysClient
from receiver.registration.registrar import (
    Registrar,
    RegistrationError,
    RegistrationFailed,
    RegistrationReport,
    ResourceChange,
)
from receiver.registration.spec import CALLBACK_PATH
from receiver.settings import Settings
from storage.audit import (
    BY_REGISTER_COMMAND,
    BY_STARTUP,
    COMPLETED,
    FAILED,
    REGISTRATION,
    AuditEntry,
    AuditStore,
)
from storage.engine import make_engine
from storage.errors import StorageError
from storage.locks import database_lock

__all__ = [
    "RegistrationError",
    "RegistrationFailed",
    "RegistrationNotConfigured",
    "RegistrationReport",
    "ResourceChange",
    "missing_settings",
    "register",
    "register_from_settings",
    "register_on_startup",
]

log = logging.getLogger("flowtrack.registration")

_LOCK_KEY: Final = 0x666C6F7774726567  # "flowtreg"; distinct from the migration lock


class RegistrationNotConfigured(RegistrationError):
    """Settings registration needs are missing; ``missing`` names the variables."""

    code = "registration_not_configured"

    def __init__(self, missing: list[str]) -> None:
        super().__init__("registration needs " + ", ".join(missing) + " to be set")
        self.missing = tuple(missing)


def missing_settings(settings: Settings, *, genesys: bool = True) -> list[str]:
    """The ``FLOWTRACK_*`` variables registration needs that ``settings`` lacks."""
    missing = []
    if genesys and settings.genesys is None:
        missing.append("FLOWTRACK_GENESYS_CLIENT_ID (with FLOWTRACK_GENESYS_CLIENT_SECRET)")
    if settings.public_url is None:
        missing.append("FLOWTRACK_PUBLIC_URL")
    if not settings.callback_tokens:
        missing.append("FLOWTRACK_CALLBACK_TOKENS")
    return missing


async def register(
    settings: Settings,
    genesys_client: GenesysClient,
    *,
    engine: Engine,
    lock_wait: float = 120.0,
    by: str = BY_REGISTER_COMMAND,
) -> RegistrationReport:
    """Create or update flowtrack's integration, credential and action; idempotent.

    Recorded in the audit as done ``by`` (``flowtrack:register`` or ``flowtrack:startup``),
    with what became of each resource, or the Genesys error code when it failed.

    Serialised across processes through ``engine``'s database (PostgreSQL: an advisory
    lock; SQLite: the write lock, which holds ingest back until registration is done).
    Raises :class:`RegistrationNotConfigured`, :class:`RegistrationFailed` (Genesys) or
    :class:`~storage.locks.LockTimeout` (another process held the lock over
    ``lock_wait`` seconds).
    """
    missing = missing_settings(settings, genesys=False)
    if missing or settings.public_url is None:
        raise RegistrationNotConfigured(missing)
    callback_url = settings.public_url + CALLBACK_PATH
    registrar = Registrar(genesys_client, callback_url, settings.callback_tokens[0])
    try:
        async with database_lock(engine, _LOCK_KEY, name="registration", wait_seconds=lock_wait):
            report = await registrar.run()
    except RegistrationFailed as exc:
        # Recorded once the lock is let go: on SQLite the lock is the write lock.
        why = f"{exc.code}: status {exc.http_status}, code {exc.genesys_code}"
        await _audit(engine, by, None, FAILED, why)
        raise
    done = ", ".join(f"{change.kind} {change.outcome}" for change in report.resources)
    await _audit(engine, by, report.action.id, COMPLETED, done)
    for change in report.resources:
        log.info(
            "%s %r %s",
            change.kind,
            change.name,
            change.outcome,
            extra={
                "action": f"registration.{change.outcome}",
                "resource": change.kind,
                "resource_name": change.name,
                "resource_id": change.id,
                "changed": list(change.fields),
            },
        )
    for warning in report.warnings:
        log.warning(warning, extra={"action": "registration.warning"})
    log.info(
        "registered with Genesys",
        extra={
            "action": "registration.completed",
            "callback_url": callback_url,
            "outcomes": {change.kind: change.outcome for change in report.resources},
        },
    )
    return report


async def _audit(engine: Engine, by: str, target: str | None, outcome: str, detail: str) -> None:
    entry = AuditEntry(datetime.now(UTC), by, REGISTRATION, target, outcome, detail=detail)
    try:
        await AuditStore(engine).record(entry)
    except StorageError as exc:
        # `flowtrack register` may run before `flowtrack migrate`: registering needs no
        # table, so a missing audit table must not undo it.
        log.warning(str(exc), extra={"action": "registration.audit_failed"})


async def register_from_settings(settings: Settings) -> RegistrationReport:
    """What ``flowtrack register`` runs: its own engine and HTTP client, closed after."""
    missing = missing_settings(settings)
    if missing or settings.genesys is None:
        raise RegistrationNotConfigured(missing)
    engine = make_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=1,
    )
    try:
        async with httpx.AsyncClient() as http:
            client = GenesysClient(settings.genesys, http)
            return await register(settings, client, engine=engine)
    finally:
        engine.dispose()


async def register_on_startup(
    settings: Settings, client: GenesysClient | None, engine: Engine
) -> RegistrationReport | None:
    """Register while the app starts; never raises (short of cancellation).

    Missing settings are logged as ``registration.skipped``, any failure as
    ``registration.failed`` (with Genesys' status, code and correlation id), and the
    app keeps serving either way. The report is logged by :func:`register` and returned.
    """
    missing = missing_settings(settings, genesys=client is None)
    if missing or client is None:
        log.warning(
            "registration skipped: set %s",
            ", ".join(missing),
            extra={"action": "registration.skipped", "missing": missing},
        )
        return None
    try:
        return await register(settings, client, engine=engine, by=BY_STARTUP)
    except RegistrationFailed as exc:
        log.error(
            str(exc),
            extra={
                "action": "registration.failed",
                "genesys_status": exc.http_status,
                "genesys_code": exc.genesys_code,
                "correlation_id": exc.correlation_id,
            },
        )
    except (FlowtrackError, StorageError) as exc:
        log.error(str(exc), extra={"action": "registration.failed"})
    except Exception:
        # A bug here must not take the receiver down with it: it is logged in full.
        log.exception("registration failed", extra={"action": "registration.failed"})
    return None
