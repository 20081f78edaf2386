"""The base of the stores: one small async object per aggregate, owning the thread hop.

Storage's queries are synchronous functions of an Engine (SQLAlchemy Core on a blocking
driver). Each aggregate's module ends with a store — :class:`~storage.launches.LaunchStore`,
:class:`~storage.queries.EventStore`, :class:`~storage.history.HistoryStore`,
:class:`~storage.flows.FlowStore`, :class:`~storage.sweeps.SweepStore`,
:class:`~storage.retention.RetentionStore`, :class:`~storage.migrations.SchemaStore` —
whose methods run those functions in a worker thread, so that async callers write
``await launches.get(launch_id)`` and the event loop keeps serving meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Concatenate, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Engine

P = ParamSpec("P")
T = TypeVar("T")


class Store:
    """Holds the engine; :meth:`_run` calls a query function with it in a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _run(
        self, query: Callable[Concatenate[Engine, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``query(engine, *args, **kwargs)``, run in a worker thread."""
        return await anyio.to_thread.run_sync(partial(query, self.engine, *args, **kwargs))
