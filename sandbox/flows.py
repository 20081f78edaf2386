"""Flow definitions: the node graphs the sandbox's flow engine walks.

A flow file is JSON or YAML: either a list of flows or an object ``{"flows": [...]}``.

Flow keys:

``id``            flow id (string; default: a UUID derived from the name)
``name``          display name (required)
``type``          Architect flow type, lower case: ``workflow``, ``inboundcall``, ``commonmodule``,
                  ... (default ``workflow``). Only ``workflow`` flows can be launched through
                  ``POST /api/v2/flows/executions``; the others answer 400 and are started with
                  ``POST /sandbox/interactions`` (as if a call arrived).
``conversation``  whether a run belongs to a conversation (default: ``false`` for ``workflow``,
                  ``true`` for every other type). Conversation runs create a conversation and
                  publish ``v2.detail.events.conversation.{id}.flow.start/.end``.
``version``       published version (default ``"1.0"``)
``description``   free text
``data_action``   name of the data action the flow's Call Data Action steps use (default: every
                  registered Web Services action with a request URL, see ``sandbox.invoker``)
``output_data``   object returned as ``outputData`` once the run is ``COMPLETED``
``data_action_steps``  whether the flow has Call Data Action steps (default ``true``). With
                  ``false`` a run calls no data action: its nodes are visible only through
                  the ``v2.flows.instances`` push and the execution-data pull.
``execution_data``  whether the flow was published after execution data was switched on
                  (default ``true``). With ``false`` its runs produce no execution data:
                  no ``v2.flows.instances`` message, nothing to query or download.
``start``         id of the first node (default: the first node listed)
``nodes``         list of nodes (required, at least one)

Node keys:

``id``                 node id, unique within the flow (required); becomes ``nodeId`` and the
                       execution item's ``objectId``
``type``               free text such as ``Task``, ``Decision``, ``CallData`` (default ``Task``);
                       becomes ``nodeType`` and ``objectType``
``name``               display name (default: the id)
``duration_ms``        time spent in the node before it exits (default 0; times ``time_scale``)
``error_probability``  chance 0..1 that the node fails after its duration (default 0)
``hang_probability``   chance 0..1 that the node never finishes (default 0)
``error_code``         ``errorCode`` reported when the node fails (default ``FLOW_NODE_ERROR``)
``next``               id of the next node on the single success path (named ``__SUCCESS__``)
``paths``              several success paths instead of ``next``: a list of
                       ``{"name": ..., "to": <node id or null>, "weight": 1}``; one is chosen at
                       random in proportion to its weight
``on_error``           node to continue at when this node fails or its Call Data Action
                       answers non-2xx / times out (the failure path)
``outcome``            ``SUCCESS`` or ``FAILURE``: the node sets the flow's outcome (a
                       conversation run publishes ``…flow.outcome`` when it is left)

A node with neither ``next`` nor ``paths`` (or a path whose ``to`` is null) ends the run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from sandbox.errors import FlowFileError

#: Lower-case flow types as the execution-data API spells them (genesys-api.md §5.2).
FLOW_TYPES = frozenset(
    {
        "bot",
        "businessprocess",
        "commonmodule",
        "digitalbot",
        "emailsend",
        "inboundcall",
        "inboundchat",
        "inboundemail",
        "inboundshortmessage",
        "inqueuecall",
        "inqueueshortmessage",
        "inqueueemail",
        "outboundcall",
        "securecall",
        "surveyinvite",
        "voice",
        "voicemail",
        "voicesurvey",
        "workflow",
        "workitem",
    }
)
LAUNCHABLE_TYPES = frozenset({"workflow"})
SUCCESS_PATH = "__SUCCESS__"
#: ``flowOutcomeValue`` a node may set (``UNKNOWN`` is what Genesys reports without one).
OUTCOME_VALUES = frozenset({"SUCCESS", "FAILURE"})
_ID_NAMESPACE = uuid.UUID("3f0e9a52-8d0c-4c55-9b8e-1a2b3c4d5e6f")


@dataclass(frozen=True)
class OutputPath:
    """One success exit of a node; ``target`` None ends the run."""

    name: str
    target: str | None
    weight: float = 1.0


@dataclass(frozen=True)
class NodeDefinition:
    """One step of a flow."""

    id: str
    type: str = "Task"
    name: str = ""
    duration_ms: int = 0
    error_probability: float = 0.0
    hang_probability: float = 0.0
    error_code: str = "FLOW_NODE_ERROR"
    paths: tuple[OutputPath, ...] = ()
    on_error: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class FlowDefinition:
    """A flow the sandbox can run, as loaded from a flow file."""

    id: str
    name: str
    type: str
    conversation: bool
    start: str
    nodes: tuple[NodeDefinition, ...]
    version: str = "1.0"
    description: str = ""
    data_action: str | None = None
    output_data: Mapping[str, Any] = field(default_factory=dict)
    data_action_steps: bool = True
    execution_data: bool = True

    @property
    def launchable(self) -> bool:
        """Whether ``POST /api/v2/flows/executions`` may start this flow."""
        return self.type in LAUNCHABLE_TYPES

    def node(self, node_id: str) -> NodeDefinition:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise FlowFileError(f"flow {self.name!r} has no node {node_id!r}")


def load_flow_file(path: str | Path) -> list[FlowDefinition]:
    """Read and validate a JSON or YAML flow file."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data: Any = orjson.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise FlowFileError(f"{path}: not valid JSON/YAML: {exc}") from exc
    return parse_flows(data)


def parse_flows(data: Any) -> list[FlowDefinition]:
    """Validate flow-file content (already decoded) into flow definitions."""
    if isinstance(data, Mapping):
        data = data.get("flows")
    if not isinstance(data, list) or not data:
        raise FlowFileError("a flow file holds a non-empty list of flows (or {'flows': [...]})")
    flows = [parse_flow(item) for item in data]
    ids = [flow.id for flow in flows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise FlowFileError(f"duplicate flow ids: {duplicates}")
    return flows


def parse_flow(raw: Any) -> FlowDefinition:
    """Validate one flow mapping."""
    if isinstance(raw, FlowDefinition):
        return raw
    if not isinstance(raw, Mapping):
        raise FlowFileError(f"a flow must be an object, got {raw!r}")
    name = _text(raw, "name", where="flow")
    where = f"flow {name!r}"
    flow_type = str(raw.get("type", "workflow")).lower()
    if flow_type not in FLOW_TYPES:
        raise FlowFileError(f"{where}: unknown type {flow_type!r}")
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise FlowFileError(f"{where}: 'nodes' must be a non-empty list")
    nodes = tuple(_parse_node(item, where) for item in raw_nodes)
    node_ids = [node.id for node in nodes]
    if len(set(node_ids)) != len(node_ids):
        raise FlowFileError(f"{where}: node ids must be unique")
    start = str(raw.get("start", node_ids[0]))
    for target in [start, *_targets(nodes)]:
        if target not in node_ids:
            raise FlowFileError(f"{where}: edge to unknown node {target!r}")
    output_data = raw.get("output_data", {})
    if not isinstance(output_data, Mapping):
        raise FlowFileError(f"{where}: 'output_data' must be an object")
    data_action = raw.get("data_action")
    switches = {key: raw.get(key, True) for key in ("data_action_steps", "execution_data")}
    for key, value in switches.items():
        if not isinstance(value, bool):
            raise FlowFileError(f"{where}: '{key}' must be true or false")
    return FlowDefinition(
        id=str(raw.get("id") or uuid.uuid5(_ID_NAMESPACE, name)),
        name=name,
        type=flow_type,
        conversation=bool(raw.get("conversation", flow_type != "workflow")),
        start=start,
        nodes=nodes,
        version=str(raw.get("version", "1.0")),
        description=str(raw.get("description", "")),
        data_action=str(data_action) if data_action else None,
        output_data=dict(output_data),
        data_action_steps=switches["data_action_steps"],
        execution_data=switches["execution_data"],
    )


def _parse_node(raw: Any, where: str) -> NodeDefinition:
    if not isinstance(raw, Mapping):
        raise FlowFileError(f"{where}: a node must be an object, got {raw!r}")
    node_id = _text(raw, "id", where=where)
    where = f"{where}, node {node_id!r}"
    if "next" in raw and "paths" in raw:
        raise FlowFileError(f"{where}: use either 'next' or 'paths'")
    paths: tuple[OutputPath, ...] = ()
    if raw.get("next") is not None:
        paths = (OutputPath(SUCCESS_PATH, str(raw["next"])),)
    elif "paths" in raw:
        paths = tuple(_parse_path(item, where) for item in _list(raw, "paths", where))
    on_error = raw.get("on_error")
    outcome = raw.get("outcome")
    if outcome is not None and outcome not in OUTCOME_VALUES:
        raise FlowFileError(f"{where}: 'outcome' must be one of {sorted(OUTCOME_VALUES)}")
    return NodeDefinition(
        id=node_id,
        type=str(raw.get("type", "Task")),
        name=str(raw.get("name", node_id)),
        duration_ms=int(_number(raw, "duration_ms", where, minimum=0, maximum=None)),
        error_probability=_number(raw, "error_probability", where, minimum=0, maximum=1),
        hang_probability=_number(raw, "hang_probability", where, minimum=0, maximum=1),
        error_code=str(raw.get("error_code", "FLOW_NODE_ERROR")),
        paths=paths,
        on_error=str(on_error) if on_error is not None else None,
        outcome=outcome,
    )


def _parse_path(raw: Any, where: str) -> OutputPath:
    if not isinstance(raw, Mapping) or "name" not in raw:
        raise FlowFileError(f"{where}: each path needs at least a 'name'")
    target = raw.get("to")
    weight = _number(raw, "weight", where, minimum=0, maximum=None, default=1.0)
    return OutputPath(str(raw["name"]), str(target) if target is not None else None, weight)


def _targets(nodes: Sequence[NodeDefinition]) -> list[str]:
    targets = [path.target for node in nodes for path in node.paths if path.target]
    return targets + [node.on_error for node in nodes if node.on_error]


def _text(raw: Mapping[str, Any], key: str, *, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str | int) or value == "":
        raise FlowFileError(f"{where}: '{key}' is required")
    return str(value)


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        raise FlowFileError(f"{where}: '{key}' must be a non-empty list")
    return value


def _number(
    raw: Mapping[str, Any],
    key: str,
    where: str,
    *,
    minimum: float,
    maximum: float | None,
    default: float = 0.0,
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FlowFileError(f"{where}: '{key}' must be a number")
    if value < minimum or (maximum is not None and value > maximum):
        raise FlowFileError(f"{where}: '{key}' out of range")
    return float(value)
