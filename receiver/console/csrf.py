"""CSRF tokens for the console's forms.

Every form that changes something carries a token the server compares with one only
this browser holds: the session's own token once signed in; before that (the sign-in
form), a token in a short-lived ``HttpOnly`` cookie the form echoes. The session
cookie's ``SameSite=Strict`` already keeps other sites' forms from sending it; the
token also refuses a post made without the page, by a script or a confused client.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.responses import Response

from receiver.errors import Forbidden

#: The form field every state-changing form carries.
FIELD = "csrf"
LOGIN_COOKIE = "flowtrack_login"
LOGIN_SECONDS = 3600


class CsrfRefused(Forbidden):
    """A state-changing form came without the token of the page it belongs to."""

    code = "csrf_refused"


def check(expected: str | None, presented: object) -> None:
    """Raise CsrfRefused unless ``presented`` is the ``expected`` token (constant time)."""
    if not expected or not isinstance(presented, str) or not presented:
        raise CsrfRefused("this form has no valid CSRF token: reload the page and try again")
    if not hmac.compare_digest(expected.encode(), presented.encode()):
        raise CsrfRefused("this form's CSRF token does not match: reload the page and try again")


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(24)


def set_login_token(response: Response, token: str, *, secure: bool) -> None:
    """Give the browser the sign-in form's token, for the form to echo."""
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_SECONDS,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
