"""A finished run as execution data: the downloaded record and the pushed item list.

The downloaded file (genesys-api.md §5.3, §16.B.2) is ``{"flow": {…, "execution": [...]}}``
whose items are single-key objects named by their kind:

- ``startedFlow {dateTime, languageTag, variables}`` first and ``endedFlow {dateTime,
  flowExitReason}`` last — items without any id;
- a node of type ``Task`` is ``startedTask {taskId, taskName, dateTime, executionId,
  outputPathId?, execution: [...]}``: the nodes visited after it, up to the next task or
  the end, are nested in its ``execution``; an ``endedTask {taskName, dateTime}`` (no id)
  follows it;
- any other node is ``action<Type> {actionId, actionName, dateTime, executionId,
  outputPathId?, trackingId, errors?}`` (``CallData`` → ``actionCallData``).

Nothing carries an end time: a visit ends where the next visit starts, in document order
flattened depth first, the last one at ``endedFlow.dateTime``. A failed visit carries
``errors: [{reason, executionId, objectId}]``.

The pushed ``v2.flows.instances.flow.{flowId}`` body lists ``FlowExecutionItem``s
instead (§5.4): a first ``startedFlow`` item without ``objectId`` or ``executionId``,
then one item per visit; past ``max_items`` the list is cut, ``executionItemsTruncated``
is true and ``executionHistoryUri`` points at the full downloaded record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.catalog import HOME_DIVISION_ID
from sandbox.executions import Execution
from sandbox.flows import FlowDefinition
from sandbox.timestamps import iso

LANGUAGE_TAG = "en-us"


def _kind(node_type: str) -> str:
    return "action" + node_type[:1].upper() + node_type[1:]


def _visit(flow: FlowDefinition, item: dict[str, Any]) -> dict[str, Any]:
    """One visit (a trail item) as the downloaded record's item."""
    node = flow.node(item["objectId"])
    if node.type == "Task":
        payload: dict[str, Any] = {"taskId": node.id, "taskName": node.name}
    else:
        payload = {"actionId": node.id, "actionName": node.name}
    payload.update(dateTime=item["startDateTime"], executionId=item["executionId"])
    if "outputPathId" in item:
        payload["outputPathId"] = item["outputPathId"]
    if node.type == "Task":
        payload["execution"] = []
        return {"startedTask": payload}
    payload["trackingId"] = [n.id for n in flow.nodes].index(node.id) + 1
    if "error" in item:
        payload["errors"] = [dict(item["error"])]
    return {_kind(node.type): payload}


def execution_record(execution: Execution, ended_at: datetime, exit_reason: str) -> dict[str, Any]:
    """The downloaded execution-data file of one finished run."""
    flow = execution.flow
    top: list[dict[str, Any]] = [
        {
            "startedFlow": {
                "dateTime": iso(execution.launched_at),
                "languageTag": LANGUAGE_TAG,
                "variables": [
                    {
                        "variableName": name if name.startswith("Flow.") else f"Flow.{name}",
                        "value": value,
                    }
                    for name, value in execution.input_data.items()
                ],
            }
        }
    ]
    task: dict[str, Any] | None = None
    for item in execution.trail:
        entry = _visit(flow, item)
        if "startedTask" in entry:
            _end_task(top, task, item["startDateTime"])
            task = entry["startedTask"]
            top.append(entry)
        elif task is not None:
            task["execution"].append(entry)
        else:
            top.append(entry)
    _end_task(top, task, iso(ended_at))
    top.append({"endedFlow": {"dateTime": iso(ended_at), "flowExitReason": exit_reason}})
    document: dict[str, Any] = {
        "executionId": execution.id,
        "flowId": flow.id,
        "flowName": flow.name,
        "flowType": flow.type,
        "flowVersion": flow.version,
        "division": {"id": HOME_DIVISION_ID},
        "startDateTime": iso(execution.launched_at),
        "endDateTime": iso(ended_at),
        "execution": top,
    }
    if execution.conversation_id:
        document["conversationId"] = execution.conversation_id
    return {"flow": document}


def _end_task(top: list[dict[str, Any]], task: dict[str, Any] | None, at: str) -> None:
    if task is not None:
        top.append({"endedTask": {"taskName": task["taskName"], "dateTime": at}})


def pushed_items(execution: Execution) -> list[dict[str, Any]]:
    """``FlowExecutionItem``s: ``startedFlow`` (no ids), then one item per visit."""
    started = {
        "objectType": "startedFlow",
        "startDateTime": iso(execution.launched_at),
        "languageTag": LANGUAGE_TAG,
    }
    return [started, *(dict(item) for item in execution.trail)]
