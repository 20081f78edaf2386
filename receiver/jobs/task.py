"""A long-running task of the app, started and stopped by its lifespan."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundTask:
    """Runs :meth:`_run` as one asyncio task from :meth:`start` until :meth:`stop`."""

    task_name = "flowtrack-task"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task in the running loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
