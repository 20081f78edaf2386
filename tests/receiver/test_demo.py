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
        "curl -s -H",
        "stopped cleanly",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert (tmp_path / "demo.db").exists()
