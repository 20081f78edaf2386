from datetime import UTC, datetime, timedelta

from receiver.genesys.instances import FlowInstance
from receiver.history_pull.matching import match
from storage.history_pulls import Candidate

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def launch(
    launch_id: str, execution: str | None = None, conversation: str | None = None, at: int = 0
) -> Candidate:
    start = T0 + timedelta(seconds=at)
    return Candidate(
        launch_id, "f-1", execution, conversation, start, start + timedelta(seconds=5), 0
    )


def run(instance_id: str, conversation: str | None = None, at: float = 0.5) -> FlowInstance:
    start = T0 + timedelta(seconds=at)
    return FlowInstance(instance_id, "f-1", conversation, start, start + timedelta(seconds=4))


def test_the_execution_id_matches_first() -> None:
    found = match([launch("l-1", execution="x-1")], [run("x-2"), run("x-1")])
    assert found.found["l-1"].id == "x-1"


def test_then_the_one_run_of_the_launchs_conversation() -> None:
    found = match([launch("l-1", conversation="c-1")], [run("i-1", "c-2"), run("i-2", "c-1")])
    assert found.found["l-1"].id == "i-2"


def test_then_the_one_run_started_within_the_launchs_time() -> None:
    found = match([launch("l-1"), launch("l-2", at=60)], [run("i-1", at=0.5), run("i-2", at=60.2)])
    assert {k: v.id for k, v in found.found.items()} == {"l-1": "i-1", "l-2": "i-2"}


def test_two_runs_in_the_launchs_time_are_ambiguous_and_neither_is_taken() -> None:
    found = match([launch("l-1")], [run("i-1", at=0.5), run("i-2", at=1.0)])
    assert (found.found, found.ambiguous) == ({}, ["l-1"])


def test_one_run_fitting_two_launches_is_ambiguous_for_both() -> None:
    found = match([launch("l-1"), launch("l-2", at=1)], [run("i-1", at=1.5)])
    assert found.found == {}
    assert sorted(found.ambiguous) == ["l-1", "l-2"]


def test_no_run_yet_is_missing() -> None:
    found = match([launch("l-1")], [run("i-1", at=30)])
    assert found.missing == ["l-1"]
