import asyncio
from pathlib import Path

from tests.processes import demo_output


async def test_the_demo_launches_follows_and_ends_every_kind_of_flow(tmp_path: Path) -> None:
    text = await demo_output("--database", str(tmp_path / "demo.db"))
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
    text = await demo_output(cwd=tmp_path)
    database = text.splitlines()[0].removeprefix("flowtrack demo — database ")
    assert "flowtrack-demo-" in database
    assert not await asyncio.to_thread(Path(database).exists)
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []
