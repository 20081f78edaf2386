"""``execute`` and ``test`` of a data action, as the platform runs them (genesys-api.md §16.C).

One pipeline serves both: take an org limit slot, validate the input against the input
schema, render the request (``$!{input.x}``, ``$!{credentials.x}``, ``${input.rawRequest}``;
see :meth:`~sandbox.invoker.ActionInvoker.request_for`), send it with the action's
``timeoutSeconds`` as a hard deadline on the whole exchange, then translate the answer
through ``config.response`` (strictly: a path without a value or default fails). Each
stage is a :class:`Step`, which is what ``test`` returns as ``operations``.

The request carries the headers Genesys adds to web-request actions:
``ININ-Correlation-Id`` (the execute call's own correlation id),
``ININ-Organization-Id`` and ``ININ-Home-Organization-Id``. A relative
``requestUrlTemplate`` (the sample actions use ``/sandbox/stub/…``) is sent to the
sandbox's own address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from sandbox import action_errors
from sandbox.action_contract import schema_problems
from sandbox.action_counter import ExecutionCounter
from sandbox.action_errors import ActionFailure
from sandbox.action_limits import ActionLimits, LimitReached
from sandbox.delivery import Outbound
from sandbox.integrations import Action
from sandbox.template import TranslationError, translate_strictly

RequestBuilder = Callable[[Action, Mapping[str, Any]], Outbound]


@dataclass(frozen=True)
class Step:
    """One ``TestExecutionOperationResult``."""

    name: str
    success: bool
    result: Any = None
    error: dict[str, Any] | None = None


@dataclass
class Execution:
    """What one execute or test produced: the output or the failure, and the steps."""

    output: Any = None
    failure: ActionFailure | None = None
    steps: list[Step] = field(default_factory=list)

    def test_result(self) -> dict[str, Any]:
        """The ``TestExecutionResult`` document."""
        document: dict[str, Any] = {
            "operations": [
                {
                    "step": number,
                    "name": step.name,
                    "success": step.success,
                    **({"result": step.result} if step.result is not None else {}),
                    **({"error": step.error} if step.error is not None else {}),
                }
                for number, step in enumerate(self.steps, start=1)
            ],
            "success": self.failure is None,
        }
        if self.failure is None:
            document["finalResult"] = self.output
        else:
            document["error"] = self.failure.body
        return document


class ActionExecutor:
    """Runs actions against their remote endpoints under the org limits, counting each."""

    def __init__(
        self,
        build_request: RequestBuilder,
        limits: ActionLimits,
        counter: ExecutionCounter,
        org_id: str,
    ) -> None:
        self._build = build_request
        self.limits = limits
        self.counter = counter
        self._org_id = org_id
        self.client: httpx.AsyncClient | None = None

    async def run(
        self,
        action: Action,
        values: Mapping[str, Any],
        *,
        context_id: str,
        own_base_url: str,
        test: bool = False,
    ) -> Execution:
        execution = Execution()
        try:
            with self.limits.slot():
                await self._run(execution, action, values, context_id, own_base_url, test)
        except LimitReached as limit:
            execution.failure = action_errors.rate_limited(
                context_id, limit.key, limit.value, limit.retry_after
            )
        outcome = "succeeded" if execution.failure is None else execution.failure.reason
        self.counter.ended(action.id, outcome, test=test)
        return execution

    async def _run(
        self,
        execution: Execution,
        action: Action,
        values: Mapping[str, Any],
        context_id: str,
        own_base_url: str,
        test: bool,
    ) -> None:
        steps = execution.steps
        schema = (action.contract.get("input") or {}).get("inputSchema") or {}
        problems = schema_problems(schema, dict(values))
        if problems:
            execution.failure = action_errors.invalid_input(context_id, problems)
            steps.append(Step("Validate input against schema", False, error=execution.failure.body))
            return
        steps.append(Step("Validate input against schema", True, dict(values)))
        outbound = self._build(action, values)
        url = outbound.url if "://" in outbound.url else own_base_url + outbound.url
        headers = {
            **outbound.headers,
            "ININ-Correlation-Id": context_id,
            "ININ-Organization-Id": self._org_id,
            "ININ-Home-Organization-Id": self._org_id,
        }
        steps.append(Step("Resolve request URL template", True, url))
        steps.append(Step("Resolve request body template", True, outbound.body.decode()))
        steps.append(Step("Resolve request headers", True, headers))
        answer = await self._send(execution, action, outbound, url, headers, context_id, test)
        if execution.failure is not None:
            return
        try:
            translated, output = translate_strictly(answer, action.config.get("response"))
        except TranslationError as exc:
            execution.failure = action_errors.processing(context_id, str(exc))
            steps.append(Step("Resolve translation map", False, error=execution.failure.body))
            return
        steps.append(Step("Resolve translation map", True, translated))
        steps.append(Step("Resolve success template", True, output))
        execution.output = output
        if test:
            success = (action.contract.get("output") or {}).get("successSchema") or {}
            mismatch = schema_problems(success, output)
            if mismatch:
                failure = action_errors.processing(
                    context_id,
                    "The output does not match the success schema: "
                    + "; ".join(f"{p.field or '(output)'}: {p.message}" for p in mismatch),
                )
                execution.failure = failure
                steps.append(Step("Validate output against schema", False, error=failure.body))
            else:
                steps.append(Step("Validate output against schema", True, output))

    async def _send(
        self,
        execution: Execution,
        action: Action,
        outbound: Outbound,
        url: str,
        headers: dict[str, str],
        context_id: str,
        test: bool,
    ) -> Any:
        """Send the request; the decoded answer, or ``execution.failure`` set."""
        name = "Execute request"
        if self.client is None:
            execution.failure = action_errors.remote_endpoint(
                context_id, "the sandbox is not running", None
            )
            execution.steps.append(Step(name, False, error=execution.failure.body))
            return None
        seconds = outbound.timeout
        self.counter.sent(action.id, test=test)
        try:
            async with asyncio.timeout(seconds):
                response = await self.client.request(
                    outbound.method,
                    url,
                    headers=headers,
                    content=outbound.body or None,
                    timeout=seconds + 1,
                )
        except (TimeoutError, httpx.TimeoutException):
            execution.failure = action_errors.timed_out(context_id, seconds)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            execution.failure = action_errors.remote_endpoint(context_id, reason, None)
        else:
            text = response.text
            status = response.status_code
            if status in (401, 403):
                execution.failure = action_errors.authentication(context_id, text)
            elif not 200 <= status < 300:
                message = f"Request to backend service failed. Response from web service: {text}"
                execution.failure = action_errors.remote_endpoint(context_id, message, status)
            else:
                try:
                    answer = orjson.loads(response.content) if response.content.strip() else {}
                except orjson.JSONDecodeError:
                    execution.failure = action_errors.processing(
                        context_id, "The remote endpoint's answer is not JSON."
                    )
                else:
                    execution.steps.append(Step(name, True, {"statusCode": status, "body": answer}))
                    return answer
        execution.steps.append(Step(name, False, error=execution.failure.body))
        return None
