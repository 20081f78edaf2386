"""The exception tree of the receiver package.

Every error flowtrack's own code raises on purpose derives from :class:`FlowtrackError`
and says *what kind* of failure it is by its base class; none of them knows HTTP. The
web edge (``receiver.web.responses``) maps each kind to a status, in one table::

    FlowtrackError                 a failure flowtrack names (unclassified: 500)
    ├── BadRequest                 the request cannot be parsed        (400)
    ├── Unauthenticated            no or wrong credentials             (401)
    ├── Forbidden                  the credentials may not do this     (403)
    ├── NotFound                   the named thing is not stored       (404)
    ├── Conflict                   it cannot be done in this state     (409)
    ├── TooLarge                   the request is over a size limit    (413)
    ├── UnsupportedMedia           the request is not JSON             (415)
    ├── InvalidRequest             parsed, but its content is wrong    (422)
    ├── UpstreamFailure            Genesys refused or failed           (502)
    └── Unavailable                a dependency is missing or down     (503)

``receiver.genesys.errors.GenesysError`` is an :class:`UpstreamFailure`; storage's own
tree (``storage.errors``) stays separate, since storage never imports the receiver.
"""

from __future__ import annotations

from typing import Any


class FlowtrackError(Exception):
    """Base of every error flowtrack raises on purpose.

    ``code`` is a stable machine-readable name, ``detail`` extra JSON-serialisable
    context (each problem with its field, for instance).
    """

    code: str = "internal_error"

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


class BadRequest(FlowtrackError):
    """The request cannot be parsed (malformed JSON, a malformed query parameter)."""


class Unauthenticated(FlowtrackError):
    """The request carries no credentials, or credentials flowtrack does not accept."""

    #: Sent with the answer, e.g. ``WWW-Authenticate``.
    headers: dict[str, str] | None = None


class Forbidden(FlowtrackError):
    """The credentials are valid but may not do this."""


class NotFound(FlowtrackError):
    """The thing the request names is not stored."""


class Conflict(FlowtrackError):
    """The request cannot be carried out in the current state; retrying may help."""


class TooLarge(FlowtrackError):
    """The request is over a configured size limit."""


class UnsupportedMedia(FlowtrackError):
    """The request's media type is not one flowtrack reads."""


class InvalidRequest(FlowtrackError):
    """The request parses, but what it says is wrong; ``detail`` lists each problem."""


class UpstreamFailure(FlowtrackError):
    """Genesys refused or failed a call flowtrack made on the request's behalf."""


class Unavailable(FlowtrackError):
    """Something the request needs is not configured or not reachable."""
