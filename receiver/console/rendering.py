"""How console pages become HTML: the Jinja2 templates, their filters, and the static files.

Static files are addressed with a digest of their content (``/ui/static/console.css?v=…``)
and served as immutable for a year: a new release changes the address, never the file
behind an address a browser has kept.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from receiver.web.models import timestamp

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PREFIX = "/ui"
IMMUTABLE = "public, max-age=31536000, immutable"
#: Only the console's own files; nothing inline, nothing from elsewhere, never framed.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: Where the console leaves its templates in each request's scope.
TEMPLATES_KEY = "flowtrack.console.templates"


class CachedStaticFiles(StaticFiles):
    """Starlette's static files, sent with a long ``Cache-Control`` (addresses carry digests)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = IMMUTABLE
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 404:
            response.headers["Cache-Control"] = "no-store"
        return response


def _digests() -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC.iterdir()
        if path.is_file()
    }


def static_url(name: str, digests: dict[str, str]) -> str:
    """The address of a static file, with the digest of its content."""
    return f"{PREFIX}/static/{name}?v={digests.get(name, '0')}"


def when(value: datetime | None) -> str:
    """A moment as the console writes it: UTC to the second (the exact time in a title)."""
    if value is None:
        return "—"
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime | None) -> str:
    """A moment as the API writes it (ISO-8601, UTC)."""
    if value is None:
        return ""
    return timestamp(value if value.tzinfo else value.replace(tzinfo=UTC)) or ""


def duration(milliseconds: float | None) -> str:
    """A duration for people: ms below a second, then seconds, minutes, hours."""
    if milliseconds is None:
        return "—"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago a moment was ("3 min ago"); ahead of now: "in 3 min"."""
    if value is None:
        return "—"
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    delta = ((now or datetime.now(UTC)) - moment).total_seconds() * 1000
    text = duration(abs(delta))
    return f"{text} ago" if delta >= 0 else f"in {text}"


def moment(value: datetime | None) -> Markup:
    """A ``<time>`` element: UTC to the second, the exact instant in its title."""
    if value is None:
        return Markup("—")
    # Markup.format escapes what it is given.
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(iso(value), when(value))


def state(value: str) -> Markup:
    """A state as a badge (its CSS class names the state)."""
    badge = Markup('<span class="state state-{0}">{1}</span>')
    return badge.format(value, value.replace("_", " "))


def templates() -> Jinja2Templates:
    """The console's templates, with its filters and static addresses."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the package: no file system check on each render.
        auto_reload=False,
    )
    digests = _digests()
    environment.filters.update(when=when, iso=iso, duration=duration, ago=ago)
    # Python, not template macros: called for every row of every list.
    environment.globals.update(
        static=lambda name: static_url(name, digests),
        ui=PREFIX,
        field_name="csrf",
        moment=moment,
        state=state,
    )
    return Jinja2Templates(env=environment)


def page(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """Template ``name`` rendered with ``context`` and the signed-in session, not cached."""
    found: Jinja2Templates = request.scope[TEMPLATES_KEY]
    session = getattr(request.state, "console_session", None)
    response = found.TemplateResponse(
        request, name, {"session": session, **context}, status_code=status
    )
    # Pages show live data for one signed-in user: never kept by a shared cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Frame-Options"] = "DENY"
    return response
