"""What the benchmarks share: free ports, throwaway databases, child servers (flowtrack,
the sandbox, a no-op), wrk runs and the settings that point flowtrack at a sandbox.

Not a benchmark itself; the bench scripts import it (``bench/`` is on their path).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "FLOWTRACK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
API_KEY = "bench-api-key-0123456789"
TOKEN = "bench-callback-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def database(kind: str, workdir: Path, name: str = "bench") -> Iterator[str]:
    """A fresh, empty database of ``kind`` (``sqlite`` or ``postgresql``); its URL.

    SQLite's file lives in ``workdir`` and is removed afterwards (with its WAL); the
    PostgreSQL database is created on the test server and dropped afterwards.
    """
    if kind == "sqlite":
        path = workdir / f"{name}-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    database_name = f"flowtrack_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name)))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + database_name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(database_name)
                )
            )


@contextmanager
def server(
    command: list[str], env: dict[str, str], port: int, *, cwd: Path = ROOT
) -> Iterator[None]:
    """``command`` in a child process until something listens on ``port``; stopped after."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    told = process.stderr.read() if process.stderr else ""
                    raise RuntimeError(f"server failed to start: {told}") from None
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def serve_env(**settings: str) -> dict[str, str]:
    """This environment without any FLOWTRACK_ setting, then ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env.update(settings)
    return env


@contextmanager
def sandbox(*options: str) -> Iterator[str]:
    """``flowtrack sandbox`` with ``options`` in a child process; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "receiver", "sandbox", "--port", str(port), *options]
    process = subprocess.Popen(
        command, cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def sandbox_settings(url: str, sandbox_url: str) -> dict[str, str]:
    """flowtrack's settings for ``url`` with Genesys being the sandbox at ``sandbox_url``."""
    return {
        "FLOWTRACK_DATABASE_URL": url,
        "FLOWTRACK_API_KEYS": API_KEY,
        "FLOWTRACK_INSECURE_CALLBACKS": "1",
        "FLOWTRACK_GENESYS_CLIENT_ID": "sandbox",
        "FLOWTRACK_GENESYS_CLIENT_SECRET": "sandbox",
        "FLOWTRACK_GENESYS_API_URL": sandbox_url,
        "FLOWTRACK_GENESYS_LOGIN_URL": sandbox_url,
    }


def wrk(script: str, port: int, seconds: int, connections: int, *args: str) -> dict[str, Any]:
    """wrk with ``bench/<script>`` against ``port``: the summary the script writes.

    One connection per thread, so a script can tell which request each response answers.
    """
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s"]
        command += ["--timeout", "10s", "-s", str(ROOT / "bench" / script)]
        command += [f"http://127.0.0.1:{port}", "--", *args]
        subprocess.run(
            command, env={**os.environ, "BENCH_OUT": out.name}, check=True, capture_output=True
        )
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
        return result


def percentile(values: list[float], share: float) -> float:
    """The value ``share`` of the way up ``values`` sorted (nan when there are none)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")
