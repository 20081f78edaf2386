import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from receiver.cli import SWITCH_INTERVAL_SECONDS, bind_host, main
from receiver.ingest.credentials import sign
from receiver.settings import WebhookSecret
from storage.migrations import head_revision
from tests.conftest import FLOWTRACK, READ_KEY, SECRET_KEY, WEBHOOK_SECRET, free_port, settings_for


def environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env.update(
        FLOWTRACK_DATABASE_URL=database_url,
        FLOWTRACK_WEBHOOK_SECRETS=WEBHOOK_SECRET,
        FLOWTRACK_API_READ_KEYS=READ_KEY,
        FLOWTRACK_LOG_FORMAT="json",
    )
    return env


def test_migrate_then_serve_accepts_a_signed_callback_and_lists_it(empty_database_url: str) -> None:
    # A misspelt setting is served with its default, and said so at start.
    env = environment(empty_database_url) | {"FLOWTRACK_SWEEP_INTERVALL": "3"}
    migrated = subprocess.run(
        [*FLOWTRACK, "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    assert f"database is at migration {head_revision()}" in migrated.stdout

    port = free_port()
    server = subprocess.Popen(
        [*FLOWTRACK, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        body = orjson.dumps({"event": "start", "launchId": "l-1", "flowId": "f-1"})
        stamp = int(time.time())
        signature = sign(WebhookSecret(SECRET_KEY), "msg_1", stamp, body)
        response = httpx.post(
            f"{base}/webhooks/genesys",
            content=body,
            headers={
                "content-type": "application/json",
                "webhook-id": "msg_1",
                "webhook-timestamp": str(stamp),
                "webhook-signature": signature,
            },
        )
        assert response.json() == {"accepted": 1, "duplicates": 0, "command": "continue"}
        listed = httpx.get(f"{base}/api/v1/events", headers={"Authorization": f"Bearer {READ_KEY}"})
        [event] = listed.json()["items"]
        assert (event["kind"], event["launchId"]) == ("start", "l-1")
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert server.returncode in (0, -15)
    actions = [orjson.loads(line)["action"] for line in stderr.splitlines() if line.startswith("{")]
    assert "app.started" in actions
    assert "app.stopped" in actions
    assert actions.count("settings.unknown_variable") == 1
    assert "did you mean FLOWTRACK_SWEEP_INTERVAL?" in stderr
    assert WEBHOOK_SECRET not in stderr


def test_bad_settings_stop_the_server_with_a_message_naming_the_variable(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'x.db'}")
    env["FLOWTRACK_MAX_BODY_BYTES"] = "-5"
    result = subprocess.run(
        [*FLOWTRACK, "serve"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "FLOWTRACK_MAX_BODY_BYTES: expected a number above 0" in result.stderr


def test_procfile_migrates_on_release_and_serves_on_port() -> None:
    procfile = (Path(__file__).parents[2] / "Procfile").read_text()
    assert "release: flowtrack migrate" in procfile
    assert "web: flowtrack serve --port $PORT" in procfile


def test_serve_tunes_the_interpreter_for_the_writer_thread_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, float] = {}

    def run(app: object, **options: object) -> None:
        seen["switch_interval"] = sys.getswitchinterval()
        seen["frozen"] = gc.get_freeze_count()

    for name, value in environment(f"sqlite:///{tmp_path / 'flowtrack.db'}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(uvicorn, "run", run)
    previous = sys.getswitchinterval()
    try:
        assert main(["serve", "--port", str(free_port())]) == 0
    finally:
        sys.setswitchinterval(previous)
        gc.unfreeze()
    assert seen["switch_interval"] == pytest.approx(SWITCH_INTERVAL_SECONDS)
    assert seen["frozen"] > 0


def test_serve_binds_every_interface_by_default_and_loopback_when_insecure() -> None:
    secure = settings_for("sqlite:///unused.db")
    insecure_api = settings_for("sqlite:///unused.db", FLOWTRACK_INSECURE_API="1")
    insecure_callbacks = settings_for("sqlite:///unused.db", FLOWTRACK_INSECURE_CALLBACKS="1")
    assert bind_host(None, secure) == "0.0.0.0"
    assert bind_host(None, insecure_api) == "127.0.0.1"
    assert bind_host(None, insecure_callbacks) == "127.0.0.1"
    # --host always wins.
    assert bind_host("0.0.0.0", insecure_api) == "0.0.0.0"
