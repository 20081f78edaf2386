"""The sandbox application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from sandbox import (
    action_control,
    actions_api,
    channel_controls,
    channel_flood,
    control_api,
    conversations_api,
    flows_api,
    history_api,
    integrations_api,
    notifications_api,
    stub,
)
from sandbox.action_runtime import ActionRuntime
from sandbox.auth import token_endpoint
from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError, handle_http_exception, handle_sandbox_error
from sandbox.gateway import Gateway
from sandbox.state import SandboxState


def create_sandbox_app(config: SandboxConfig) -> Starlette:
    """Build a sandbox serving the API, the login path and the WebSockets on one port.

    The state lives on ``app.state.sandbox`` (:class:`~sandbox.state.SandboxState`); the
    lifespan opens the outbound HTTP client and workers and, on shutdown, cancels running
    flows and closes sockets.
    """
    sandbox = SandboxState(config)
    actions = ActionRuntime(sandbox)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            async with actions.running():
                yield
        finally:
            await sandbox.stop()

    routes: list[BaseRoute] = [
        Route("/oauth/token", token_endpoint, methods=["POST"]),
        # Before flows: /api/v2/flows/instances/… is not a flow id.
        *history_api.routes,
        *flows_api.routes,
        *conversations_api.routes,
        # Actions before integrations: "/integrations/actions" is not an integration id.
        *actions_api.routes,
        *integrations_api.routes,
        *notifications_api.routes,
        *control_api.routes,
        *action_control.routes,
        *stub.routes,
        *channel_controls.routes,
        *channel_flood.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Gateway, sandbox=sandbox)],
        exception_handlers={
            SandboxError: handle_sandbox_error,
            HTTPException: handle_http_exception,
        },
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    app.state.actions = actions
    return app
