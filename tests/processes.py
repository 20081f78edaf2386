"""flowtrack in child processes, for tests that need a real process: one to ``kill -9``,
several replicas on one database, or the demo from start to exit."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.conftest import CALLBACK_TOKEN, FLOWTRACK, READ_KEY, WRITE_KEY, free_port


@asynccontextmanager
async def served(
    database_url: str, *, ready: str = "/healthz", **settings: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``flowtrack serve`` on ``database_url`` in a child process, with the test keys and
    ``settings``; its process and URL once ``ready`` answers 200. Terminated afterwards
    unless the test already ended it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env.update(
        FLOWTRACK_DATABASE_URL=database_url,
        FLOWTRACK_CALLBACK_TOKENS=CALLBACK_TOKEN,
        FLOWTRACK_API_KEYS=WRITE_KEY,
        FLOWTRACK_API_READ_KEYS=READ_KEY,
        FLOWTRACK_LOG_LEVEL="WARNING",
    )
    env.update(settings)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *FLOWTRACK, "serve", "--host", "127.0.0.1", "--port", str(port), env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{base}{ready}")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not become ready"
                await asyncio.sleep(0.1)
        yield process, base
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def demo_output(*options: str, cwd: Path | None = None) -> str:
    """``flowtrack demo --exit-when-done`` on free ports with ``options``: what it printed
    (stdout and stderr), once it has exited 0."""
    process = await asyncio.create_subprocess_exec(
        *FLOWTRACK,
        "demo",
        "--exit-when-done",
        "--port",
        str(free_port()),
        "--sandbox-port",
        str(free_port()),
        *options,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    text = output.decode()
    assert process.returncode == 0, text
    return text
