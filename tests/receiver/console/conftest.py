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
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

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


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    path = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, headless=True)
        yield browser
        await browser.close()


class Console:
    """One browser tab on the console, keeping every JavaScript error it sees."""

    def __init__(self, page: Page, base_url: str, screenshots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.screenshots = screenshots
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    async def open(self, path: str) -> None:
        response = await self.page.goto(self.base_url + path)
        assert response is not None and response.ok, (path, response and response.status)

    async def sign_in(self, key: str) -> None:
        await self.page.goto(self.base_url + "/ui/login")
        await self.page.get_by_label("API key").fill(key)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url(self.base_url + "/ui/")

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=self.screenshots / f"{name}.png", full_page=True)

    async def csrf(self) -> str:
        token = await self.page.locator("form.signout input[name=csrf]").get_attribute("value")
        assert token
        return token


async def console_for(
    chromium: Browser, flowtrack: Any, screenshots: Path, viewport: Any = None
) -> Console:
    """A new browser tab (its own cookies) on the console of ``flowtrack`` (its ``api``)."""
    context = await chromium.new_context(viewport=viewport or DESKTOP)
    return Console(await context.new_page(), str(flowtrack.api.base_url).rstrip("/"), screenshots)
