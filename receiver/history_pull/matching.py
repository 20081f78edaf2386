"""Which run found by a query is which launch.

Genesys has no criteria key for a launch id (§16.B.1), so a launch is matched to one of
the runs of its flow found around its time, in this order:

1. **by execution id**: the run's instance ``id`` equals the launch's
   ``flowExecutionId`` (the id ``POST /api/v2/flows/executions`` answered);
2. **by conversation id**: exactly one run has the launch's conversation;
3. **by time**: exactly one run not matched to another launch started between the
   launch's creation (less :data:`SKEW`) and its end, in the same conversation if the run
   has one.

Several runs fitting rule 3, or one run fitting two launches, is **ambiguous**: no
history is taken for those launches (a wrong history is worse than none), and they are
not tried again. No run at all: not found yet (tried again later).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from receiver.genesys.instances import FlowInstance
from storage.history_pulls import Candidate

#: Clock difference allowed between flowtrack's launch time and the run's start.
SKEW = timedelta(seconds=5)


@dataclass
class Matches:
    """Launch id → instance id; ambiguous and unmatched launch ids."""

    found: dict[str, FlowInstance] = field(default_factory=dict)
    ambiguous: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def match(launches: Sequence[Candidate], instances: Sequence[FlowInstance]) -> Matches:
    """Match ``launches`` (of one flow) to the ``instances`` a query found."""
    result = Matches()
    by_id = {instance.id: instance for instance in instances}
    taken: set[str] = set()
    rest: list[Candidate] = []
    for launch in launches:
        instance = by_id.get(launch.flow_execution_id or "")
        if instance is None and launch.conversation_id:
            same = [i for i in instances if i.conversation_id == launch.conversation_id]
            instance = same[0] if len(same) == 1 else None
        if instance is None:
            rest.append(launch)
            continue
        result.found[launch.launch_id] = instance
        taken.add(instance.id)
    claims: dict[str, list[str]] = {}
    for launch in rest:
        fitting = [
            i
            for i in instances
            if i.id not in taken
            and i.start is not None
            and launch.created_at - SKEW <= i.start <= launch.ended_at
            and (i.conversation_id is None or i.conversation_id == launch.conversation_id)
        ]
        if not fitting:
            result.missing.append(launch.launch_id)
        elif len(fitting) > 1:
            result.ambiguous.append(launch.launch_id)
        else:
            claims.setdefault(fitting[0].id, []).append(launch.launch_id)
            result.found[launch.launch_id] = fitting[0]
    for launch_ids in claims.values():
        if len(launch_ids) > 1:
            for launch_id in launch_ids:
                del result.found[launch_id]
                result.ambiguous.append(launch_id)
    return result
