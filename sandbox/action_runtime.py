"""What the data action endpoints share: limits, the executor, the counter, the stub service.

Built by the app factory next to :class:`~sandbox.state.SandboxState` and kept on
``app.state.actions``; :meth:`running` opens the executor's HTTP client for the app's
lifespan and installs the sample actions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.requests import Request

from sandbox.action_counter import ExecutionCounter
from sandbox.action_executor import ActionExecutor
from sandbox.action_limits import ActionLimits
from sandbox.action_samples import install_sample_actions
from sandbox.state import SandboxState
from sandbox.stub import StubService


class ActionRuntime:
    """The org's data action machinery (``app.state.actions``)."""

    def __init__(self, sandbox: SandboxState) -> None:
        config = sandbox.config
        self._sandbox = sandbox
        self.samples = (
            config.sample_actions if config.sample_actions is not None else config.flows is None
        )
        self.limits = ActionLimits(
            config.action_concurrency_limit, config.action_executions_per_minute
        )
        self.counter = ExecutionCounter(sandbox.stats)
        self.executor = ActionExecutor(
            sandbox.invoker.request_for, self.limits, self.counter, config.org_id
        )
        self.stub = StubService(config.seed)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve executions until the block ends (the app's lifespan)."""
        if self.samples:
            install_sample_actions(self._sandbox.integrations)
        # Its own client: a slow remote endpoint must not wait behind callback deliveries.
        async with httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            follow_redirects=False,
        ) as client:
            self.executor.client = client
            try:
                yield
            finally:
                self.executor.client = None

    def reset(self) -> None:
        """After ``POST /sandbox/reset``: counts and windows cleared, samples back."""
        self.counter.reset()
        self.limits.reset()
        self.stub.reset()
        if self.samples:
            install_sample_actions(self._sandbox.integrations)


def actions_of(request: Request) -> ActionRuntime:
    """The data action machinery serving ``request``."""
    runtime: ActionRuntime = request.app.state.actions
    return runtime
