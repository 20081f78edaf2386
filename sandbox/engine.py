"""The flow engine: starts runs, ends them from outside, tears conversations down."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from sandbox.background import Background
from sandbox.config import SandboxConfig
from sandbox.conversations import Conversation, ConversationRegistry
from sandbox.executions import Execution, ExecutionRegistry
from sandbox.flows import FlowDefinition
from sandbox.history import HistoryLog
from sandbox.invoker import ActionInvoker
from sandbox.notifications import NotificationHub
from sandbox.run import FlowRun, Termination
from sandbox.stats import Stats


class FlowEngine:
    """Owns the running :class:`~sandbox.run.FlowRun` tasks of one sandbox."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        executions: ExecutionRegistry,
        conversations: ConversationRegistry,
        invoker: ActionInvoker,
        hub: NotificationHub,
        history: HistoryLog,
        stats: Stats,
        background: Background,
    ) -> None:
        self._config = config
        self._executions = executions
        self._conversations = conversations
        self._invoker = invoker
        self._hub = hub
        self._history = history
        self._stats = stats
        self._background = background
        self._runs: dict[str, tuple[FlowRun, asyncio.Task[Any]]] = {}
        self._started = 0

    def _launch_id(self, input_data: dict[str, Any]) -> str | None:
        key = self._config.launch_id_input_key
        value = input_data.get(key, input_data.get(f"Flow.{key}"))
        return str(value) if value is not None else None

    def _rng(self) -> random.Random:
        # One stream per run, numbered in start order, so a seeded sandbox replays runs.
        self._started += 1
        seed = self._config.seed
        return random.Random(f"{seed}:run:{self._started}" if seed is not None else None)

    def start(self, flow: FlowDefinition, name: str, input_data: dict[str, Any]) -> Execution:
        """Create the execution (and conversation) and start walking the flow."""
        execution = self._executions.create(flow, name, input_data, self._launch_id(input_data))
        conversation: Conversation | None = None
        if flow.conversation:
            conversation = self._conversations.create(flow, execution.id)
            execution.conversation_id = conversation.id
        run = FlowRun(
            execution,
            conversation,
            invoker=self._invoker,
            hub=self._hub,
            history=self._history,
            stats=self._stats,
            rng=self._rng(),
            time_scale=self._config.time_scale,
        )
        task = self._background.spawn(run.run(), name=f"sandbox-run-{execution.id}")
        self._runs[execution.id] = (run, task)
        task.add_done_callback(lambda _: self._run_done(execution.id))
        self._stats.incr("runs.started")
        return execution

    def _run_done(self, execution_id: str) -> None:
        entry = self._runs.pop(execution_id, None)
        if entry is not None:
            # A task cancelled before its first step never ran its own handler.
            entry[0].record_termination()

    def terminate(self, execution_id: str, termination: Termination) -> bool:
        """End a running execution as TERMINATED; False if it is not running."""
        entry = self._runs.get(execution_id)
        if entry is None or entry[0].termination is not None:
            return False
        run, task = entry
        run.termination = termination
        task.cancel()
        return True

    async def terminate_and_wait(self, execution_id: str, termination: Termination) -> bool:
        """:meth:`terminate`, then wait until the run has recorded its end."""
        entry = self._runs.get(execution_id)
        if entry is None or not self.terminate(execution_id, termination):
            return False
        await asyncio.gather(entry[1], return_exceptions=True)
        return True

    def request_teardown(self, conversation: Conversation) -> None:
        """Asynchronous full teardown (disconnect/DELETE): ends shortly after the 202."""
        if conversation.ended or conversation.teardown_requested:
            return
        conversation.teardown_requested = True
        self._background.spawn(
            self._teardown(conversation), name=f"sandbox-teardown-{conversation.id}"
        )

    async def _teardown(self, conversation: Conversation) -> None:
        await asyncio.sleep(self._config.disconnect_delay_seconds)
        # The run publishes its flow.end before the conversation shows endTime.
        await self.terminate_and_wait(
            conversation.execution_id, Termination("Conversation disconnected")
        )
        conversation.end("system")
        self._stats.incr("conversations.ended_by_teardown")

    async def cancel_all(self) -> None:
        """Stop every run without recording anything (reset)."""
        tasks = [task for _, task in self._runs.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runs.clear()

    @property
    def running(self) -> int:
        return len(self._runs)
