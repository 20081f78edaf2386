"""Readiness, checked by the lifespan and every ``/readyz`` probe, logged when it changes.

A probe every few seconds must not write a line each time; a change must: the line
names the database (without its password) and what is wrong.
"""

from __future__ import annotations

import logging

from storage.errors import StorageError
from storage.migrations import SchemaStore

log = logging.getLogger("flowtrack.readiness")


class Readiness:
    """Checks the schema; logs ``app.ready`` / ``app.not_ready`` once per change."""

    def __init__(self, schema: SchemaStore) -> None:
        self._schema = schema
        self._database = schema.engine.url.render_as_string(hide_password=True)
        self._ready: bool | None = None

    async def check(self) -> str:
        """The schema revision; raises ``StorageError`` when not ready."""
        try:
            revision = await self._schema.check_ready()
        except StorageError as exc:
            if self._ready is not False:
                self._ready = False
                log.warning(
                    f"not ready: {exc}",
                    extra={"action": "app.not_ready", "database": self._database},
                )
            raise
        if self._ready is not True:
            self._ready = True
            log.info(
                "ready",
                extra={"action": "app.ready", "database": self._database, "migration": revision},
            )
        return revision
