import re

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import RunningServer, running_server
from receiver.settings import SettingsError
from tests.conftest import READ_KEY, settings_for
from tests.receiver.console.conftest import sign_in


async def test_a_browser_asking_for_the_root_goes_to_the_console_an_api_client_gets_json(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        browser = await http.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
        assert (browser.status_code, browser.headers["location"]) == (303, "/ui/")
        client = await http.get("/", headers={"Accept": "application/json"})
        assert client.json()["service"] == "flowtrack"
        assert (await http.get("/")).json()["service"] == "flowtrack"


async def test_flowtrack_ui_0_turns_the_console_off(database_url: str) -> None:
    app = create_app(settings_for(database_url, FLOWTRACK_UI="0"))
    async with running_server(app) as running, httpx.AsyncClient(base_url=running.base_url) as http:
        assert (await http.get("/ui/login")).status_code == 404
        assert (await http.get("/ui/static/console.css")).status_code == 404
        root = await http.get("/", headers={"Accept": "text/html"})
        assert root.status_code == 200
        assert root.json()["service"] == "flowtrack"


async def test_static_files_are_cached_by_digest_and_pages_never(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        page = await http.get("/ui/login")
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        addresses = re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page.text)
        assert {a.split("?")[0] for a in addresses} == {
            "/ui/static/console.css",
            "/ui/static/console.js",
            "/ui/static/favicon.svg",
        }
        for address in addresses:
            assert re.search(r"\?v=[0-9a-f]{12}$", address), address
            static = await http.get(address)
            assert static.status_code == 200
            assert static.headers["cache-control"] == "public, max-age=31536000, immutable"
        missing = await http.get("/ui/static/nothing.css")
        assert missing.status_code == 404
        assert missing.headers["cache-control"] == "no-store"


async def test_console_failures_are_pages_that_say_what_is_wrong(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await sign_in(http, READ_KEY)
        unknown = await http.get("/ui/launches/no-such-launch")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("text/html")
        assert "no launch &#39;no-such-launch&#39;" in unknown.text
        bad_state = await http.get("/ui/launches", params={"state": "sleeping"})
        assert bad_state.status_code == 400
        assert "is not a launch state" in bad_state.text
        bad_time = await http.get("/ui/launches", params={"since": "yesterday"})
        assert bad_time.status_code == 400
        assert "is not a date and time" in bad_time.text
        bad_range = await http.get("/ui/flows/some-flow", params={"range": "forever"})
        assert bad_range.status_code == 400
        nowhere = await http.get("/ui/nowhere")
        assert nowhere.status_code == 404
        assert nowhere.headers["content-type"].startswith("text/html")
        conversation = await http.get("/ui/conversations/none")
        assert conversation.status_code == 404


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_a_session_secret_shorter_than_32_characters_stops_the_start(secret: str) -> None:
    with pytest.raises(
        SettingsError, match="FLOWTRACK_UI_SECRET: at least 32 characters"
    ) as caught:
        settings_for("sqlite:///unused.db", FLOWTRACK_UI_SECRET=secret)
    assert secret not in str(caught.value)


async def test_replicas_sharing_the_secret_share_sessions_and_a_made_up_secret_is_warned_of(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = {"FLOWTRACK_UI_SECRET": "shared-console-secret-0123456789abcdef"}
    first = create_app(settings_for(database_url, **secret))
    second = create_app(settings_for(database_url, **secret))
    with caplog.at_level("WARNING", logger="flowtrack.console"):
        alone = create_app(settings_for(database_url))
    made_up = [r for r in caplog.records if getattr(r, "action", "") == "console.secret_generated"]
    assert len(made_up) == 1
    async with (
        running_server(first) as one,
        running_server(second) as two,
        running_server(alone) as three,
        httpx.AsyncClient(base_url=one.base_url) as http,
    ):
        await sign_in(http, READ_KEY)
        cookie = {"flowtrack_session": http.cookies["flowtrack_session"]}
        for running, status in ((two, 200), (three, 303)):
            async with httpx.AsyncClient(base_url=running.base_url, cookies=cookie) as other:
                assert (await other.get("/ui/")).status_code == status
