"""One flow run walking its node graph in (scaled) real time.

At each node the run does what an Architect flow with Call Data Action steps does: it
reports ``node_enter``, spends the node's duration, may fail (``error_probability``) or
hang forever (``hang_probability``), picks an output path, and reports ``node_exit``. It
reports ``start`` first and ``complete`` last. Every report is a data-action call (see
:mod:`sandbox.invoker`) carrying the canonical callback body (design.md §2); a flow file
saying ``data_action_steps: false`` makes none. Once ended, the run is handed to the
execution-data log (:mod:`sandbox.history`), which records and pushes its history.

How a run ends (``FlowRuntimeExecution.status``):

- ``COMPLETED``: a node without a next node was left on a success path.
- ``ERROR``: a node failed and has no ``on_error`` path (an ``error`` report precedes it).
- ``FAILED``: a ``node_enter``/``node_exit`` call failed or timed out and the node has no
  ``on_error`` path.
- ``TERMINATED``: an answer said ``"command": "stop"``, the conversation was
  disconnected, or ``POST /sandbox/executions/{id}/terminate`` forced it. No ``complete``
  report follows a termination.

Failures of the ``start``, ``error`` and ``complete`` reports do not change the path.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.conversations import Conversation
from sandbox.executions import Execution
from sandbox.flows import SUCCESS_PATH, NodeDefinition, OutputPath
from sandbox.history import HistoryLog
from sandbox.invoker import ActionInvoker, ActionOutcome
from sandbox.messages import (
    conversation_topic,
    flow_end_body,
    flow_outcome_body,
    flow_start_body,
)
from sandbox.notifications import NotificationHub
from sandbox.stats import Stats
from sandbox.timestamps import iso, utc_now

log = logging.getLogger(__name__)

#: Guards against flows whose error paths loop forever.
MAX_STEPS = 10_000


@dataclass(frozen=True)
class Termination:
    """Why an outside party ended a run (set before its task is cancelled)."""

    reason: str
    exit_reason: str = "DISCONNECT"
    disconnect_type: str = "SYSTEM"


class _Stopped(Exception):
    """An answer carried ``"command": "stop"``."""


@dataclass(frozen=True)
class _Ending:
    status: str
    reason: str
    error: dict[str, Any] | None = None


class FlowRun:
    """Walks one execution's graph; :meth:`run` is the task body."""

    def __init__(
        self,
        execution: Execution,
        conversation: Conversation | None,
        *,
        invoker: ActionInvoker,
        hub: NotificationHub,
        history: HistoryLog,
        stats: Stats,
        rng: random.Random,
        time_scale: float,
    ) -> None:
        self.execution = execution
        self.conversation = conversation
        self.termination: Termination | None = None
        self._invoker = invoker
        self._hub = hub
        self._history = history
        self._stats = stats
        self._rng = rng
        self._time_scale = time_scale
        self._conversational = conversation is not None

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            if self.termination is None:
                raise  # shutdown or reset: nothing to record
            self.record_termination()
        except Exception as exc:
            # A sandbox bug must not leave the execution RUNNING forever.
            log.exception("flow run %s failed", self.execution.id)
            if not self.execution.finished:
                failure = _error_info("SANDBOX_FAILURE", f"{type(exc).__name__}: {exc}")
                ending = _Ending("ERROR", "The sandbox failed while running the flow", failure)
                self._finish(ending, exit_reason="FLOW_ERROR_EXIT", disconnect_type="ERROR")

    def record_termination(self) -> None:
        """Finish as TERMINATED for :attr:`termination` (once; no-op if already finished)."""
        if self.termination is None or self.execution.finished:
            return
        self._invoker.discard(self.execution.id)
        self._finish(
            _Ending("TERMINATED", self.termination.reason),
            exit_reason=self.termination.exit_reason,
            disconnect_type=self.termination.disconnect_type,
        )

    async def _run(self) -> None:
        self._publish_start()
        try:
            ending = await self._walk()
            await self._report(
                "complete",
                outcome=_OUTCOMES.get(ending.status, "failed"),
                attributes={"status": ending.status},
            )
        except _Stopped:
            await self._invoker.flush(self.execution.id)
            ending = _Ending("TERMINATED", "Stopped by the data action answer (command: stop)")
            self._finish(ending, exit_reason=self._normal_exit, disconnect_type="ENDPOINT")
            return
        await self._invoker.flush(self.execution.id)
        if ending.status == "COMPLETED":
            self._finish(ending, exit_reason=self._normal_exit, disconnect_type="ENDPOINT")
        else:
            exit_reason = "FLOW_ERROR_DISCONNECT" if self._conversational else "FLOW_ERROR_EXIT"
            self._finish(ending, exit_reason=exit_reason, disconnect_type="ERROR")

    @property
    def _normal_exit(self) -> str:
        return "FLOW_DISCONNECT" if self._conversational else "FLOW_EXIT"

    async def _walk(self) -> _Ending:
        flow = self.execution.flow
        await self._report("start")
        node: NodeDefinition | None = flow.node(flow.start)
        steps = 0
        while node is not None:
            steps += 1
            if steps > MAX_STEPS:
                return _Ending("ERROR", f"More than {MAX_STEPS} steps", _error_info("FLOW_LOOP"))
            target = await self._visit(node)
            if isinstance(target, _Ending):
                return target
            node = flow.node(target) if target is not None else None
        return _Ending("COMPLETED", "Flow completed")

    async def _visit(self, node: NodeDefinition) -> str | _Ending | None:
        """Run one node; the next node id, None at the end, or how the run ends."""
        item: dict[str, Any] = {
            "objectType": node.type,
            "objectId": node.id,
            "executionId": str(uuid.uuid4()),
            "startDateTime": iso(utc_now()),
        }
        self.execution.trail.append(item)
        hangs = self._rng.random() < node.hang_probability
        fails = self._rng.random() < node.error_probability
        path = self._choose(node.paths)
        entered = await self._report("node_enter", node)
        if entered is not None and entered.path != "success":
            return self._step_failed(node, item, entered)
        if hangs:
            self._stats.incr("runs.hung")
            await asyncio.Event().wait()  # only a termination (cancellation) ends this
        await asyncio.sleep(node.duration_ms / 1000 * self._time_scale)
        if fails:
            return await self._node_failed(node, item)
        item["outputPathId"] = path.name if path else SUCCESS_PATH
        left = await self._report("node_exit", node, output_path=item["outputPathId"])
        if left is not None and left.path != "success":
            return self._step_failed(node, item, left)
        if node.outcome is not None:
            self._publish_outcome(node)
        return path.target if path else None

    def _choose(self, paths: tuple[OutputPath, ...]) -> OutputPath | None:
        draw = self._rng.random()
        total = sum(p.weight for p in paths)
        if not paths or total <= 0:
            return paths[0] if paths else None
        threshold = draw * total
        for path in paths:
            threshold -= path.weight
            if threshold < 0:
                return path
        return paths[-1]

    async def _node_failed(self, node: NodeDefinition, item: dict[str, Any]) -> str | _Ending:
        item["error"] = {
            "reason": node.error_code,
            "executionId": item["executionId"],
            "objectId": node.id,
        }
        message = f"Node {node.name!r} failed"
        await self._report("error", node, error_code=node.error_code, message=message)
        if node.on_error:
            return node.on_error
        return _Ending("ERROR", message, _error_info(node.error_code, message))

    def _step_failed(
        self, node: NodeDefinition, item: dict[str, Any], outcome: ActionOutcome
    ) -> str | _Ending:
        reason = "DATA_ACTION_TIMEOUT" if outcome.path == "timeout" else "DATA_ACTION_FAILED"
        item["error"] = {"reason": reason, "executionId": item["executionId"], "objectId": node.id}
        self._stats.incr(f"runs.step_{outcome.path}")
        if node.on_error:
            return node.on_error
        message = f"Call Data Action failed at {node.name!r}: {outcome.detail}"
        return _Ending("FAILED", message, _error_info(reason, message, outcome.status))

    async def _report(
        self,
        event: str,
        node: NodeDefinition | None = None,
        *,
        output_path: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
        outcome: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> ActionOutcome | None:
        """Post one canonical callback; raises :class:`_Stopped` on a ``stop`` answer.

        A flow without Call Data Action steps reports nothing.
        """
        execution = self.execution
        if not execution.flow.data_action_steps:
            return None
        body = {
            "event": event,
            "eventId": str(uuid.uuid4()),
            "launchId": execution.launch_id,
            "flowExecutionId": execution.id,
            "conversationId": execution.conversation_id,
            "flowId": execution.flow.id,
            "nodeId": node.id if node else None,
            "nodeType": node.type if node else None,
            "nodeName": node.name if node else None,
            "outputPath": output_path,
            "errorCode": error_code,
            "message": message,
            "outcome": outcome,
            "occurredAt": iso(utc_now()),
            "attributes": {"flowVersion": execution.flow.version, **(attributes or {})},
        }
        answer = await self._invoker.call_step(execution.flow.data_action, body, execution.id)
        if answer is not None and answer.stop and event != "complete":
            raise _Stopped
        return answer

    def _publish_outcome(self, node: NodeDefinition) -> None:
        if self.conversation is not None and node.outcome is not None:
            body = flow_outcome_body(
                self.execution, self.conversation, node.id, node.outcome, utc_now()
            )
            self._hub.publish(conversation_topic(self.conversation.id, "outcome"), body)

    def _publish_start(self) -> None:
        if self.conversation is not None:
            body = flow_start_body(self.execution, self.conversation)
            self._hub.publish(conversation_topic(self.conversation.id, "start"), body)

    def _finish(self, ending: _Ending, *, exit_reason: str, disconnect_type: str) -> None:
        execution = self.execution
        execution.finish(ending.status, ending.reason, ending.error)
        self._stats.incr(f"runs.{ending.status}")
        ended_at = execution.completed_at or utc_now()
        if self.conversation is not None:
            body = flow_end_body(
                execution,
                self.conversation,
                ended_at,
                exit_reason=exit_reason,
                disconnect_type=disconnect_type,
            )
            self._hub.publish(conversation_topic(self.conversation.id, "end"), body)
            self.conversation.end(disconnect_type.lower())
        self._history.log(execution, ended_at, exit_reason)


# The canonical ``outcome`` of a ``complete`` callback for each final status.
_OUTCOMES = {"COMPLETED": "completed", "TERMINATED": "terminated"}


def _error_info(
    code: str, message: str = "Flow error", status: int | None = None
) -> dict[str, Any]:
    """``flowErrorInfo`` (an ``ErrorBody``)."""
    return {
        "message": message,
        "code": code,
        "status": status or 500,
        "messageParams": {},
        "details": [],
        "errors": [],
    }
