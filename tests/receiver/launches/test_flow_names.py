from collections.abc import Sequence
from typing import Any, cast

from receiver.genesys import GenesysClient
from receiver.genesys.errors import GenesysUnavailable
from receiver.launches.flow_names import RETRY_SECONDS, FlowNames

FLOW = "aaaaaaaa-0000-4000-8000-000000000001"
OTHER = "aaaaaaaa-0000-4000-8000-000000000002"


class Genesys:
    """Answers flow names, counting the calls; ``down`` makes it fail."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.down = False

    async def flow_names(self, flow_ids: Sequence[str]) -> dict[str, str]:
        self.asked.append(list(flow_ids))
        if self.down:
            raise GenesysUnavailable("Genesys is down")
        return {FLOW: "Orders"}


def names_of(genesys: Genesys, clock: Any = None) -> FlowNames:
    client = cast(GenesysClient, genesys)
    return FlowNames(client) if clock is None else FlowNames(client, clock)


async def test_each_flow_is_asked_once_and_ids_that_are_no_uuid_never() -> None:
    genesys = Genesys()
    names = names_of(genesys)
    assert await names.names([FLOW, OTHER, "f-1"]) == {FLOW: "Orders", OTHER: None, "f-1": None}
    assert await names.names([FLOW, OTHER, "f-1"]) == {FLOW: "Orders", OTHER: None, "f-1": None}
    assert genesys.asked == [[FLOW, OTHER]]


async def test_a_failed_lookup_is_retried_only_after_a_while() -> None:
    genesys = Genesys()
    genesys.down = True
    now = [1000.0]
    names = names_of(genesys, lambda: now[0])
    assert await names.names([FLOW]) == {FLOW: None}
    genesys.down = False
    assert await names.names([FLOW]) == {FLOW: None}
    assert len(genesys.asked) == 1
    now[0] += RETRY_SECONDS
    assert await names.names([FLOW]) == {FLOW: "Orders"}


async def test_without_genesys_every_name_is_null() -> None:
    assert await FlowNames(None).names([FLOW]) == {FLOW: None}
