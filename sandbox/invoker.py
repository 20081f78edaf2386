"""Running a data action the way a Call Data Action step does (genesys-api.md §10).

Which action a flow calls: the flow's ``data_action`` name if it has one, otherwise
every action of an ENABLED ``custom-rest-actions`` integration whose
``config.request.requestUrlTemplate`` is set, in creation order (see
:meth:`~sandbox.integrations.IntegrationRegistry.callback_actions`). The request is built
from the action's config: URL, method (``requestType``), ``headers`` and
``requestTemplate`` (default ``${input.rawRequest}``) with ``${input.*}`` and
``${credentials.*}`` resolved from the input and the integration's credentials (a
``basicAuth`` credential also adds ``Authorization: Basic`` unless a header sets it). It
is sent with ``config.timeoutSeconds`` (default and maximum 60). A 2xx JSON answer is
translated through ``config.response`` into the output; anything else is the failure
(or timeout) path.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from sandbox.delivery import Courier, Outbound
from sandbox.integrations import Action, IntegrationRegistry
from sandbox.template import render, translate

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class ActionOutcome:
    """How a data action call ended, i.e. which output path a flow step takes."""

    path: Literal["success", "failure", "timeout"]
    output: Any = None
    status: int | None = None
    detail: str = ""

    @property
    def stop(self) -> bool:
        """The answer asks the flow to end (``"command": "stop"``, design.md §3)."""
        return (
            self.path == "success"
            and isinstance(self.output, Mapping)
            and str(self.output.get("command", "")).lower() == "stop"
        )


class ActionInvoker:
    """Builds and sends data-action requests for the engine and for ``/execute``."""

    def __init__(self, registry: IntegrationRegistry, courier: Courier) -> None:
        self._registry = registry
        self._courier = courier

    def request_for(self, action: Action, values: Mapping[str, Any]) -> Outbound:
        request = action.config.get("request") or {}
        fields: dict[str, str] = {}
        basic: str | None = None
        for credential in self._registry.credentials_for(action.integration_id):
            fields.update(credential.fields)
            if credential.type_name == "basicAuth":
                user = credential.fields.get("userName", "")
                pair = f"{user}:{credential.fields.get('password', '')}".encode()
                basic = "Basic " + base64.b64encode(pair).decode()
        scope = {
            "input": {**values, "rawRequest": orjson.dumps(dict(values)).decode()},
            "credentials": fields,
        }
        method = str(request.get("requestType") or "POST").upper()
        headers = {str(k): render(str(v), scope) for k, v in (request.get("headers") or {}).items()}
        lowered = {name.lower() for name in headers}
        if basic and "authorization" not in lowered:
            headers["Authorization"] = basic
        body = b""
        if method in _BODY_METHODS:
            template = str(request.get("requestTemplate") or "${input.rawRequest}")
            body = render(template, scope).encode()
            if "content-type" not in lowered:
                headers["Content-Type"] = "application/json"
        timeout = action.config.get("timeoutSeconds") or 60
        return Outbound(
            method=method,
            url=render(action.request_url, scope),
            headers=headers,
            body=body,
            timeout=float(min(max(int(timeout), 1), 60)),
        )

    async def call(self, action: Action, values: Mapping[str, Any], stream: str) -> ActionOutcome:
        delivered = await self._courier.deliver(self.request_for(action, values), stream)
        if delivered.held:
            return ActionOutcome("success", output={})
        if delivered.status is None:
            path: Literal["failure", "timeout"] = "timeout" if delivered.timed_out else "failure"
            return ActionOutcome(path, detail=delivered.error or "no answer")
        if not 200 <= delivered.status < 300:
            detail = f"HTTP {delivered.status} from {action.request_url}"
            return ActionOutcome("failure", status=delivered.status, detail=detail)
        try:
            answer = orjson.loads(delivered.body) if delivered.body.strip() else {}
        except orjson.JSONDecodeError:
            return ActionOutcome(
                "failure", status=delivered.status, detail="the answer is not JSON"
            )
        output = translate(answer, action.config.get("response"))
        return ActionOutcome("success", output=output, status=delivered.status)

    async def call_step(
        self, action_name: str | None, values: Mapping[str, Any], stream: str
    ) -> ActionOutcome | None:
        """One Call Data Action step: every chosen action in turn; None if none exists.

        The first ``stop`` or failure decides the step; otherwise the last success does.
        """
        outcome: ActionOutcome | None = None
        for action in self._registry.callback_actions(action_name):
            outcome = await self.call(action, values, stream)
            if outcome.stop or outcome.path != "success":
                return outcome
        return outcome

    async def flush(self, stream: str) -> None:
        """Send what the reorder fault still holds for ``stream`` (end of a run)."""
        await self._courier.flush(stream)

    def discard(self, stream: str) -> None:
        self._courier.drop(stream)
