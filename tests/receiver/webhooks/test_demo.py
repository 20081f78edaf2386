from pathlib import Path

from tests.processes import demo_output


async def test_the_demo_receives_a_verified_message_for_every_ended_launch(
    tmp_path: Path,
) -> None:
    text = await demo_output("--database", str(tmp_path / "demo.db"))
    assert "subscribed to launch ends and flow errors" in text
    # 7 completed, 3 failed (each after its flow's error), 3 timed out: as the demo plans.
    for expected in (
        "webhooks: the demo's receiver got 16 signed messages (16 verified)",
        "    7 launch.completed",
        "    3 launch.failed",
        "    3 launch.timed_out",
        "    3 flow.error",
        "(signature ok)",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "SIGNATURE WRONG" not in text
