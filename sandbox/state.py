"""Everything one sandbox instance holds, created by the app factory (no module globals)."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.websockets import WebSocket

from sandbox.auth import TokenStore
from sandbox.background import Background
from sandbox.catalog import FlowCatalog
from sandbox.channel_topics import Permissions
from sandbox.config import SandboxConfig
from sandbox.conversations import ConversationRegistry
from sandbox.delivery import Courier
from sandbox.engine import FlowEngine
from sandbox.errors import SandboxError
from sandbox.eventbridge import EventBridgePublisher
from sandbox.executions import ExecutionRegistry
from sandbox.faults import FaultInjector
from sandbox.flows import parse_flow
from sandbox.history import HistoryLog
from sandbox.history_jobs import JobRegistry
from sandbox.integrations import IntegrationRegistry
from sandbox.invoker import ActionInvoker
from sandbox.notifications import NotificationHub
from sandbox.ratelimit import RateLimiter
from sandbox.samples import sample_flows
from sandbox.stats import Stats
from sandbox.timestamps import utc_now


class SandboxState:
    """The sandbox's registries, engine and outbound machinery (``app.state.sandbox``)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        flows = (
            [parse_flow(f) for f in config.flows] if config.flows is not None else sample_flows()
        )
        published_at = utc_now()
        self.catalog = FlowCatalog(flows, published_at=published_at)
        self.stats = Stats()
        self.faults = FaultInjector(config.seed)
        self.tokens = TokenStore(
            config.client_id, config.client_secret, config.token_lifetime_seconds
        )
        self.limiter = RateLimiter(config.rate_limit_per_minute)
        self.executions = ExecutionRegistry()
        self.conversations = ConversationRegistry()
        self.integrations = IntegrationRegistry()
        self.hub = NotificationHub(
            self.stats,
            config.channel_lifetime_seconds,
            permissions=Permissions(config.permissions),
            token_alive=self._token_alive,
            closing_grace_seconds=config.socket_closing_grace_seconds,
        )
        self.background = Background()
        self.history = HistoryLog(
            config,
            hub=self.hub,
            stats=self.stats,
            background=self.background,
            published_at=published_at,
        )
        self.history_jobs = JobRegistry(self.history)
        self.callback_courier = Courier("callbacks", self.faults, self.stats)
        self.invoker = ActionInvoker(self.integrations, self.callback_courier)
        self.engine = FlowEngine(
            config,
            executions=self.executions,
            conversations=self.conversations,
            invoker=self.invoker,
            hub=self.hub,
            history=self.history,
            stats=self.stats,
            background=self.background,
        )
        self.eventbridge: EventBridgePublisher | None = None
        self._eventbridge_courier = Courier("eventbridge", self.faults, self.stats)
        if config.eventbridge_url:
            self.eventbridge = EventBridgePublisher(
                config.eventbridge_url,
                self._eventbridge_courier,
                self.stats,
                org_id=config.org_id,
                max_attempts=config.eventbridge_max_attempts,
                retry_seconds=config.eventbridge_retry_seconds,
            )
            self.hub.sinks.append(self.eventbridge.enqueue)
        self._http: httpx.AsyncClient | None = None

    def _token_alive(self, token: str) -> bool:
        # A channel dies with the token that created it (genesys-api.md §7.3).
        try:
            self.tokens.authenticate(f"Bearer {token}")
        except SandboxError:
            return False
        return True

    async def start(self) -> None:
        """Open the outbound HTTP client and start background workers (lifespan start)."""
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        )
        self.callback_courier.client = self._http
        self._eventbridge_courier.client = self._http
        if self.eventbridge is not None:
            self.eventbridge.start(self.background)

    async def stop(self) -> None:
        """Cancel running flows and workers, close sockets and the client (lifespan end)."""
        await self.engine.cancel_all()
        self.hub.clear()
        await self.background.close()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def reset(self) -> None:
        """Back to a fresh sandbox, keeping flows, issued tokens and running workers."""
        await self.engine.cancel_all()
        self.executions.clear()
        self.conversations.clear()
        self.integrations.clear()
        self.hub.clear()
        self.history.clear()
        self.history_jobs.clear()
        self.faults.reset()
        self.limiter.reset()
        self.stats.reset()
        self.callback_courier.drop()
        self._eventbridge_courier.drop()


def sandbox_of(request: Request | WebSocket) -> SandboxState:
    """The sandbox serving ``request`` (routes reach their state only through this)."""
    state: SandboxState = request.app.state.sandbox
    return state
