"""Which topics the bridge subscribes to, and how they are packed into channels.

A flow's execution messages come on ``v2.flows.instances.flow.{flowId}``; a
conversation's flow detail events on its ``…flow.start``, ``…flow.end`` and
``…flow.outcome`` topics, which are combined into one (``prefix?a&b&c``, counted once
by Genesys) to spare the budget: 1,000 topics per channel, 20 channels per OAuth client.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FLOW_PREFIX = "v2.flows.instances.flow."
CONVERSATION_PREFIX = "v2.detail.events.conversation."
_DETAIL_SUFFIXES = ("flow.start", "flow.end", "flow.outcome")
#: Genesys's limit on a combined topic's length.
MAX_COMBINED_LENGTH = 200


def flow_topic(flow_id: str) -> str:
    """The execution-history topic of one flow."""
    return f"{FLOW_PREFIX}{flow_id}"


def conversation_topics(conversation_id: str) -> list[str]:
    """The flow detail topics of one conversation: one combined topic when it fits."""
    prefix = f"{CONVERSATION_PREFIX}{conversation_id}"
    combined = f"{prefix}?{'&'.join(_DETAIL_SUFFIXES)}"
    if len(combined) <= MAX_COMBINED_LENGTH:
        return [combined]
    return [f"{prefix}.{suffix}" for suffix in _DETAIL_SUFFIXES]


def wanted(flow_ids: Iterable[str], conversation_ids: Iterable[str]) -> list[str]:
    """Every topic to follow, flows first (they matter most when the budget runs out)."""
    topics = [flow_topic(flow_id) for flow_id in dict.fromkeys(flow_ids)]
    for conversation_id in dict.fromkeys(conversation_ids):
        topics.extend(conversation_topics(conversation_id))
    return topics


@dataclass(frozen=True, slots=True)
class Packing:
    """Topics per channel slot (a slot keeps its topics while they are wanted) and the
    topics no channel had room for."""

    slots: tuple[tuple[str, ...], ...]
    left_out: tuple[str, ...]


def pack(
    topics: Sequence[str],
    current: Sequence[Sequence[str]],
    *,
    per_channel: int,
    max_channels: int,
) -> Packing:
    """Assign ``topics`` to at most ``max_channels`` slots of ``per_channel`` topics.

    A topic already on a slot stays there (no resubscription, no moment unfollowed);
    new topics fill the first slots with room, then new slots.
    """
    wanted_set = set(topics)
    slots = [[topic for topic in slot if topic in wanted_set] for slot in current]
    placed = {topic for slot in slots for topic in slot}
    left_out: list[str] = []
    for topic in topics:
        if topic in placed:
            continue
        slot = next((s for s in slots if len(s) < per_channel), None)
        if slot is None and len(slots) < max_channels:
            slot = []
            slots.append(slot)
        if slot is None:
            left_out.append(topic)
            continue
        slot.append(topic)
        placed.add(topic)
    while slots and not slots[-1]:
        slots.pop()
    return Packing(tuple(tuple(slot) for slot in slots), tuple(left_out))
