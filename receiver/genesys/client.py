"""flowtrack's async client for the Genesys Cloud Platform API.

Every endpoint used exists in the official SDK ``PureCloudPlatformClientV2`` 269.0.0
(each method names its SDK operation); JSON field names are the SDK models'
``attribute_map`` wire names. Failures raise
:class:`~receiver.genesys.errors.GenesysError` subclasses.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from receiver.genesys import wire
from receiver.genesys.actions import ActionsApi
from receiver.genesys.config import GenesysConfig
from receiver.genesys.conversation import Conversation
from receiver.genesys.execution import FlowExecution, LaunchedExecution
from receiver.genesys.instances import FlowInstancesApi
from receiver.genesys.integrations import IntegrationsApi
from receiver.genesys.notifications import NotificationsApi
from receiver.genesys.observer import GenesysObserver
from receiver.genesys.session import ApiSession, segment
from receiver.genesys.wire import JSONObject


class GenesysClient:
    """Intent-named Platform API calls over one shared ``httpx.AsyncClient``.

    Flows and conversations are methods of the client; what registration needs lives
    on ``integrations``, ``actions``, ``notifications`` and ``instances`` (execution
    history). All of them share one token, one rate limiter and one retry policy.

    The application's lifespan owns ``http`` (and closes it); this client only borrows
    it and sets URLs, headers and timeouts per request, so ``http`` needs no
    ``base_url`` and must not carry an ``auth`` of its own. ``clock`` (monotonic
    seconds), ``sleep`` and ``random`` (uniform in [0, 1)) are injectable so tests
    control time and jitter.
    """

    def __init__(
        self,
        config: GenesysConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        logger: logging.Logger | None = None,
        observer: GenesysObserver | None = None,
    ) -> None:
        self.config = config
        self._session = ApiSession(
            config,
            http,
            clock=clock,
            sleep=sleep,
            random=random,
            logger=logger or logging.getLogger("receiver.genesys"),
            observer=observer,
        )
        self.integrations = IntegrationsApi(self._session)
        self.actions = ActionsApi(self._session)
        self.notifications = NotificationsApi(self._session)
        self.instances = FlowInstancesApi(self._session, http)

    async def check_credentials(self) -> None:
        """Ask for an access token: proves the client id and secret work (GenesysError)."""
        await self._session.authenticate()

    async def launch_flow(
        self,
        flow_id: str,
        *,
        flow_version: str | None = None,
        input_data: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> LaunchedExecution:
        """Start one execution of a flow (``post_flows_executions``).

        ``flow_version`` ``None`` launches the latest published version. Not safe to
        repeat: retried only on 429 or when no connection was made. After a 5xx or a
        failure once the request was sent, raises ``GenesysOutcomeUnknown`` — reconcile
        (e.g. by a unique ``name``) instead of launching again.
        """
        body: JSONObject = {"flowId": flow_id}
        if flow_version:
            body["flowVersion"] = flow_version
        if input_data is not None:
            body["inputData"] = dict(input_data)
        if name is not None:
            body["name"] = name
        return await self._session.fetch(
            "POST",
            "/api/v2/flows/executions",
            LaunchedExecution.from_wire,
            body=body,
            retry_safe=False,
        )

    async def get_execution(self, execution_id: str) -> FlowExecution:
        """Status of a flow execution (``get_flows_execution``).

        Genesys keeps executions for several days; older ids answer 404
        (``GenesysNotFound``).
        """
        path = f"/api/v2/flows/executions/{segment(execution_id)}"
        return await self._session.fetch("GET", path, FlowExecution.from_wire)

    async def flow_names(self, flow_ids: Sequence[str]) -> dict[str, str]:
        """The names of these flows, by id (``get_flows`` filtered by ``id``, one page).

        Ids Genesys does not know are left out. At most :data:`FLOW_IDS_PER_CALL` ids.
        """
        params: dict[str, str | int] = {"id": ",".join(flow_ids), "pageSize": len(flow_ids)}
        return await self._session.fetch("GET", "/api/v2/flows", _flow_names, params=params)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        """A conversation and its participants (``get_conversation``)."""
        path = f"/api/v2/conversations/{segment(conversation_id)}"
        return await self._session.fetch("GET", path, Conversation.from_wire)

    async def disconnect_conversation(self, conversation_id: str) -> None:
        """Full teardown of a conversation (``post_conversation_disconnect``, 202).

        The teardown is asynchronous: confirm it by re-reading the conversation until
        ``Conversation.ended``. Safe to repeat, so retried like a GET.
        """
        path = f"/api/v2/conversations/{segment(conversation_id)}/disconnect"
        # The 202 body is a JSON string of unconfirmed content: deliberately unread.
        await self._session.request("POST", path, retry_safe=True)

    async def delete_conversation(self, conversation_id: str) -> None:
        """Disconnect every participant (``delete_conversation``; the newer alternative
        to :meth:`disconnect_conversation`)."""
        path = f"/api/v2/conversations/{segment(conversation_id)}"
        await self._session.request("DELETE", path)


#: How many flow ids one ``GET /api/v2/flows`` may filter on (its largest page).
FLOW_IDS_PER_CALL = 100


def _flow_names(data: JSONObject) -> dict[str, str]:
    names = {}
    for flow in wire.mappings(data, "entities"):
        flow_id, name = wire.text(flow, "id"), wire.text(flow, "name")
        if flow_id and name:
            names[flow_id] = name
    return names
