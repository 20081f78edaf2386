"""What refusing a data action run can say (the actions package's error tree)."""

from __future__ import annotations

from receiver.errors import Conflict, InvalidRequest, NotFound, Unavailable, UpstreamFailure


class InvalidRunRequest(InvalidRequest):
    """The run request's body or headers are wrong (a field missing, unknown or mistyped)."""

    code = "invalid_run_request"


class InvalidActionInput(InvalidRequest):
    """The input does not match the action's input schema: nothing was sent to Genesys.

    ``detail`` lists every problem with its field path.
    """

    code = "invalid_action_input"


class ActionNotFound(NotFound):
    """Genesys has no data action with this id."""

    code = "action_not_found"


class RunNotFound(NotFound):
    """No run has this id."""

    code = "action_run_not_found"


class RunNotCancellable(Conflict):
    """Only a queued run can be cancelled: an execution already sent cannot be recalled."""

    code = "action_run_not_cancellable"


class IdempotencyKeyReused(Conflict):
    """The ``Idempotency-Key`` was used before with a different run request."""

    code = "idempotency_key_reused"


class ActionsUnavailable(Unavailable):
    """flowtrack has no Genesys client credentials, so it cannot reach data actions."""

    code = "genesys_not_configured"


class GenesysFailed(UpstreamFailure):
    """Genesys could not be asked about the action (unreachable, refused, answered 5xx).

    ``detail`` carries Genesys's status, code and correlation id when there were any.
    """

    code = "genesys_failed"
