"""Fixtures for the console: a signed-in HTTP client, and Chromium driven by Playwright.

Chromium is Debian's (``apt-get install chromium``; ``./dev test`` installs it when it
can), driven through Playwright's Python package without any browser download. Where it
is missing the browser tests skip with a message; under CI (``CI`` set) that is a failure,
as for PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.AsyncClient:
    """``http``, signed in to the console with ``key`` (its cookie jar holds the session)."""
    form = await http.get("/ui/login")
    answer = await http.post("/ui/login", data={"key": key, "csrf": csrf_token(form.text)})
    assert answer.status_code == 303, answer.text
    return http


def chromium_path() -> str:
    """Debian's Chromium, or a skip (a failure under CI) saying how to get it."""
    found = next((path for path in CHROMIUM_PATHS if os.access(path, os.X_OK)), None)
    found = found or shutil.which("chromium")
    if found:
        return found
    message = "Chromium is not installed (apt-get install chromium; ./dev test installs it)"
    if os.environ.get("CI"):
        pytest.fail(message + " — CI requires the browser tests", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save screenshots (``FLOWTRACK_TEST_ARTIFACTS`` to keep them)."""
    chosen = os.environ.get("FLOWTRACK_TEST_ARTIFACTS")
    folder = Path(chosen) / "console" if chosen else tmp_path_factory.getbasetemp() / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
