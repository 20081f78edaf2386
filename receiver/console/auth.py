"""Signing in and out of the console, and the guard every page goes through.

A page declares what it needs with :func:`signed_in`: any session (``read``), or a
session of a write key (``write``); a form that changes something (a ``POST``) must
also carry the session's CSRF token. Without a session a browser is sent to the
sign-in page, which brings it back afterwards.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from receiver.console import csrf
from receiver.console.rendering import PREFIX, page
from receiver.console.session import Session, Sessions, SignInRefused
from receiver.console.telemetry import metrics_of
from receiver.errors import Forbidden
from receiver.resources import services

log = logging.getLogger("flowtrack.console")

#: Where the console leaves its sessions in each request's scope.
SESSIONS_KEY = "flowtrack.console.sessions"

Page = Callable[[Request], Awaitable[Response]]


class ReadOnlyKey(Forbidden):
    """A read-only key's session asked for something only a write key may do."""

    code = "forbidden"


def sessions_of(request: Request) -> Sessions:
    """The console's sessions."""
    found: Sessions = request.scope[SESSIONS_KEY]
    return found


def session_of(request: Request) -> Session:
    """The signed-in session (set by :func:`signed_in`)."""
    found: Session = request.state.console_session
    return found


def signed_in(*, write: bool = False) -> Callable[[Page], Page]:
    """Guard a page: a session (of a write key when ``write``), and CSRF on a POST."""

    def guard(handler: Page) -> Page:
        @functools.wraps(handler)
        async def checked(request: Request) -> Response:
            session = sessions_of(request).read(request)
            if session is None:
                return _to_sign_in(request)
            request.state.console_session = session
            # The audit records writes made through the console under the key's name.
            request.state.identity = session.identity
            if request.method == "POST":
                csrf.check(session.csrf, (await request.form()).get(csrf.FIELD))
            if write and not session.identity.write:
                raise ReadOnlyKey(
                    f"{session.identity.name} is a read-only key: only write keys may do this"
                )
            return await handler(request)

        return checked

    return guard


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = PREFIX + "/"
    return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console page only (never another site)."""
    if (
        value
        and (value == PREFIX or value.startswith(PREFIX + "/"))
        and "//" not in value
        and "\\" not in value
        and ".." not in value
    ):
        return value
    return PREFIX + "/"


async def login_form(request: Request) -> Response:
    """``GET /ui/login``: the sign-in form (or the console, when already signed in)."""
    if sessions_of(request).read(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _form(request, None, 200)


def _form(request: Request, problem: str | None, status: int) -> Response:
    token = csrf.new_token()
    response = page(
        request,
        "login.html",
        {"token": token, "next": safe_next(request.query_params.get("next")), "problem": problem},
        status=status,
    )
    csrf.set_login_token(response, token, secure=request.url.scheme == "https")
    return response


async def login(request: Request) -> Response:
    """``POST /ui/login``: a known API key in field ``key`` starts a session."""
    form = await request.form()
    csrf.check(request.cookies.get(csrf.LOGIN_COOKIE), form.get(csrf.FIELD))
    key = form.get("key")
    sessions = sessions_of(request)
    try:
        if not isinstance(key, str) or not key.strip():
            raise SignInRefused("enter an API key")
        session = sessions.sign_in(services(request).api_keys, key.strip())
    except SignInRefused as exc:
        metrics_of(request).signed_in("refused")
        log.warning(
            f"console sign-in refused: {exc.message}",
            extra={"action": "console.sign_in_refused", "path": request.url.path},
        )
        return _form(request, exc.message, 401)
    metrics_of(request).signed_in("write" if session.identity.write else "read")
    log.info(
        "console sign-in",
        extra={
            "action": "console.signed_in",
            "key_name": session.identity.name,
            "write": session.identity.write,
        },
    )
    target = form.get("next")
    response = RedirectResponse(safe_next(target if isinstance(target, str) else None), 303)
    sessions.store(response, session, key.strip(), secure=request.url.scheme == "https")
    response.delete_cookie(csrf.LOGIN_COOKIE, path=PREFIX)
    return response


@signed_in()
async def logout(request: Request) -> Response:
    """``POST /ui/logout``: end the session."""
    log.info(
        "console sign-out",
        extra={"action": "console.signed_out", "key_name": session_of(request).identity.name},
    )
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    Sessions.clear(response)
    return response
