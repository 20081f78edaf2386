"""flowtrack's async client for the Genesys Cloud Platform API.

Ground truth for every endpoint and field: ``genesys-api.md`` (shared with the team).
"""

from receiver.genesys.actions import DataAction
from receiver.genesys.client import GenesysClient
from receiver.genesys.config import GenesysConfig
from receiver.genesys.conversation import Conversation, MediaSession, Participant
from receiver.genesys.errors import (
    GenesysAuthError,
    GenesysBadRequest,
    GenesysBadResponse,
    GenesysConflict,
    GenesysError,
    GenesysForbidden,
    GenesysNotFound,
    GenesysOutcomeUnknown,
    GenesysRateLimited,
    GenesysUnavailable,
)
from receiver.genesys.execution import (
    ExecutionStatus,
    FlowErrorInfo,
    FlowExecution,
    LaunchedExecution,
)
from receiver.genesys.integrations import (
    WEB_SERVICES_INTEGRATION_TYPE,
    CredentialInfo,
    Integration,
    IntegrationConfig,
)
from receiver.genesys.notifications import Channel, ChannelTopic
from receiver.genesys.page import Page

__all__ = [
    "WEB_SERVICES_INTEGRATION_TYPE",
    "Channel",
    "ChannelTopic",
    "Conversation",
    "CredentialInfo",
    "DataAction",
    "ExecutionStatus",
    "FlowErrorInfo",
    "FlowExecution",
    "GenesysAuthError",
    "GenesysBadRequest",
    "GenesysBadResponse",
    "GenesysClient",
    "GenesysConfig",
    "GenesysConflict",
    "GenesysError",
    "GenesysForbidden",
    "GenesysNotFound",
    "GenesysOutcomeUnknown",
    "GenesysRateLimited",
    "GenesysUnavailable",
    "Integration",
    "IntegrationConfig",
    "LaunchedExecution",
    "MediaSession",
    "Page",
    "Participant",
]
