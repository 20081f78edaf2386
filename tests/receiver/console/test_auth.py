import httpx

from receiver.serving.server import RunningServer
from tests.conftest import READ_KEY, WRITE_KEY
from tests.receiver.console.conftest import csrf_token, sign_in


async def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answer = await http.get("/ui/launches?state=running")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/login?next=/ui/launches%3Fstate%3Drunning"
        form = await http.get(answer.headers["location"])
        assert 'name="next" value="/ui/launches?state=running"' in form.text
        signed = await http.post(
            "/ui/login",
            data={
                "key": WRITE_KEY,
                "csrf": csrf_token(form.text),
                "next": "/ui/launches?state=running",
            },
        )
        assert (signed.status_code, signed.headers["location"]) == (
            303,
            "/ui/launches?state=running",
        )
        assert (await http.get("/ui/launches?state=running")).status_code == 200


async def test_the_session_cookie_is_signed_http_only_and_same_site_strict(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await sign_in(http, READ_KEY)
        cookie = next(c for c in http.cookies.jar if c.name == "flowtrack_session")
        assert READ_KEY not in cookie.value  # the key itself never travels in the cookie
        page = await http.get("/ui/")
        assert "test-read-key" not in page.text
        assert "read only" in page.text
        http.cookies.set("flowtrack_session", cookie.value[:-2] + "xx", path="/ui")
        tampered = await http.get("/ui/")
        assert tampered.status_code == 303
    async with httpx.AsyncClient(base_url=server.base_url) as fresh:
        form = await fresh.get("/ui/login")
        answer = await fresh.post(
            "/ui/login", data={"key": WRITE_KEY, "csrf": csrf_token(form.text)}
        )
        set_cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        assert "path=/ui" in set_cookie


async def test_an_unknown_key_is_refused_with_the_form_again(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        form = await http.get("/ui/login")
        answer = await http.post(
            "/ui/login", data={"key": "not-a-key-0123456789", "csrf": csrf_token(form.text)}
        )
        assert answer.status_code == 401
        assert "not an API key this flowtrack knows" in answer.text
        assert "flowtrack_session" not in answer.headers.get("set-cookie", "")
        assert (await http.get("/ui/")).status_code == 303


async def test_posts_without_their_csrf_token_are_refused(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await http.get("/ui/login")
        refused = await http.post("/ui/login", data={"key": WRITE_KEY})
        assert refused.status_code == 403
        assert "csrf_refused" in refused.text
        assert "flowtrack_session" not in refused.headers.get("set-cookie", "")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await sign_in(http, WRITE_KEY)
        wrong = await http.post("/ui/logout", data={"csrf": "forged"})
        assert wrong.status_code == 403
        missing = await http.post("/ui/launches/any/terminate", data={"reason": "x"})
        assert missing.status_code == 403
        assert "csrf_refused" in missing.text
        assert (await http.get("/ui/")).status_code == 200  # still signed in


async def test_sign_out_ends_the_session(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await sign_in(http, WRITE_KEY)
        page = await http.get("/ui/")
        out = await http.post("/ui/logout", data={"csrf": csrf_token(page.text)})
        assert (out.status_code, out.headers["location"]) == (303, "/ui/login")
        assert (await http.get("/ui/")).status_code == 303


async def test_a_read_key_sees_no_terminate_and_cannot_post_one(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await sign_in(http, READ_KEY)
        page = await http.get("/ui/")
        refused = await http.post(
            "/ui/launches/some-launch/terminate",
            data={"csrf": csrf_token(page.text), "reason": "no"},
        )
        assert refused.status_code == 403
        assert "read-only key" in refused.text


async def test_sign_in_never_sends_the_browser_to_another_site(server: RunningServer) -> None:
    for target in ("https://evil.example/", "//evil.example/ui/", "/ui/../../x", "/uix"):
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            form = await http.get("/ui/login")
            answer = await http.post(
                "/ui/login",
                data={"key": READ_KEY, "csrf": csrf_token(form.text), "next": target},
            )
            assert answer.headers["location"] == "/ui/", target


async def test_sign_ins_and_refusals_are_counted_in_the_metrics(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        form = await http.get("/ui/login")
        await http.post(
            "/ui/login", data={"key": "nope-0123456789abcdef", "csrf": csrf_token(form.text)}
        )
        await sign_in(http, READ_KEY)
        await http.post("/ui/logout", data={"csrf": "forged"})
        metrics = await http.get("/metrics", headers={"Authorization": f"Bearer {READ_KEY}"})
    text = metrics.text
    assert 'flowtrack_console_sign_ins_total{outcome="refused"} 1.0' in text
    assert 'flowtrack_console_sign_ins_total{outcome="read"} 1.0' in text
    assert 'flowtrack_console_refusals_total{code="csrf_refused"} 1.0' in text
