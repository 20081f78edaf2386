"""Serving a sandbox inside the current event loop, on a real socket (tests, demo)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server for embedding: no signal handling, and a prompt exit.

    Signals stay with the process that embeds it; :meth:`exit` wakes the main loop at
    once instead of at its next 0.1 s tick, which keeps test teardowns short.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def exit(self) -> None:
        self.should_exit = True
        self._exit_requested.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 0.1)


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox being served: where to reach it and its live state."""

    app: Starlette
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> SandboxState:
        sandbox: SandboxState = self.app.state.sandbox
        return sandbox


@contextlib.asynccontextmanager
async def serving(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
    """Serve any ASGI ``app`` with uvicorn in this loop until the block exits; yields the port.

    The socket is bound here (``port=0`` picks a free one) and handed to uvicorn, so the
    port is known before the first request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every response stalls ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    server = _EmbeddedServer(
        uvicorn.Config(
            app,
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]), name="sandbox-server")
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
                raise RuntimeError("the server stopped during startup")
            await asyncio.sleep(0.005)
        yield sock.getsockname()[1]
    finally:
        server.exit()
        try:
            await task
        finally:
            sock.close()


@contextlib.asynccontextmanager
async def running_sandbox(
    config: SandboxConfig, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSandbox]:
    """Serve a new sandbox until the block exits; ``port=0`` picks a free port."""
    app = create_sandbox_app(config)
    async with serving(app, host, port) as bound_port:
        yield RunningSandbox(app=app, host=host, port=bound_port)
