"""The exception base of the receiver package.

Every error raised by flowtrack's own code derives from :class:`FlowtrackError`; the
app turns them into HTTP responses in one place (``receiver.app``).
"""

from __future__ import annotations

from typing import Any


class FlowtrackError(Exception):
    """Base of every error flowtrack raises on purpose.

    ``status`` is the HTTP status the error maps to when it reaches the API boundary,
    ``code`` a stable machine-readable name, ``detail`` extra JSON-serialisable context.
    """

    status: int = 500
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
