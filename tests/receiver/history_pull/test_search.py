"""Finding runs over the sandbox's real query, which answers at most 200 without paging."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from receiver.genesys import GenesysClient, GenesysConfig
from receiver.history_pull.search import find_runs
from tests.conftest import FLOW_OK, TEST_FLOWS


async def test_a_window_past_the_200_cap_is_halved_until_every_run_is_found() -> None:
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox

    config = SandboxConfig(flows=TEST_FLOWS, seed=7, time_scale=0.01, rate_limit_per_minute=100000)
    since = datetime.now(UTC) - timedelta(seconds=1)
    async with running_sandbox(config) as sandbox, httpx.AsyncClient(timeout=30) as http:
        genesys = GenesysClient(
            GenesysConfig(
                api_url=sandbox.base_url,
                login_url=sandbox.base_url,
                client_id="sandbox",
                client_secret="sandbox",
                rate_limit_per_minute=100000,
            ),
            http,
        )
        launched = await asyncio.gather(*(genesys.launch_flow(FLOW_OK) for _ in range(450)))
        ids = {execution.id for execution in launched}
        # Wide enough that a run finishing late on a loaded machine is still inside it.
        until = datetime.now(UTC) + timedelta(seconds=120)
        calls = 0

        def spend() -> None:
            nonlocal calls
            calls += 1

        for _ in range(300):  # the runs' records appear as they end
            found = await find_runs(genesys.instances, FLOW_OK, since, until, spend)
            if len(found) == len(ids):
                break
            await asyncio.sleep(0.1)
        assert {run.id for run in found} == ids
        assert len(found) == len(ids)  # each once, though the halves share an edge
        first = await genesys.instances.query(FLOW_OK, since, until)
        assert (first.total, len(first.instances)) == (450, 200)
        assert calls >= 3
