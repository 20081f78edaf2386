import asyncio
from pathlib import Path

from tests.conftest import FLOWTRACK, free_port


async def test_the_demo_launches_follows_and_ends_every_kind_of_flow(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *FLOWTRACK,
        "demo",
        "--exit-when-done",
        "--port",
        str(free_port()),
        "--sandbox-port",
        str(free_port()),
        "--database",
        str(tmp_path / "demo.db"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    text = output.decode()
    assert process.returncode == 0, text
    for expected in (
        "registered action created",
        "Order follow-up    completed",
        "Billing sync       failed       at Push to billing",
        "Customer callback  timed_out",
        "Nightly approval   timed_out",
        "Transition history of a timed-out call",
        "flowtrack    timed_out",  # the node-source column
        "most frequent path (6 runs): load-order → check-stock → notify → close",
        "Address check      completed    at store",
        "Transition history of a flow with no data action steps",
        "node source: platform",
        "validate                ",  # a visit the platform reported …
        "ms  notification exited",  # … with its duration and source
        "stopped cleanly",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    # Nothing to explore once it has exited.
    assert "curl -s -H" not in text
    assert (tmp_path / "demo.db").exists()
    short_ids = [line.split()[0] for line in text.splitlines() if "Order follow-up    " in line]
    assert len(short_ids) == len(set(short_ids)) == 6


async def test_without_a_database_the_demo_starts_fresh_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    process = await asyncio.create_subprocess_exec(
        *FLOWTRACK,
        "demo",
        "--exit-when-done",
        "--port",
        str(free_port()),
        "--sandbox-port",
        str(free_port()),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    text = output.decode()
    assert process.returncode == 0, text
    database = text.splitlines()[0].removeprefix("flowtrack demo — database ")
    assert "flowtrack-demo-" in database
    assert not await asyncio.to_thread(Path(database).exists)
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []
