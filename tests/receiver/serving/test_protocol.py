import asyncio
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from receiver.serving.protocol import CoalescingTransport
from receiver.serving.server import running_server


class RecordingTransport(asyncio.Transport):
    """Stands in for the socket's transport: remembers what reached it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def write(self, data: Any) -> None:
        self.calls.append(("write", bytes(data)))

    def close(self) -> None:
        self.calls.append(("close", None))

    def write_eof(self) -> None:
        self.calls.append(("write_eof", None))

    def abort(self) -> None:
        self.calls.append(("abort", None))

    def get_write_buffer_size(self) -> int:
        return 0


async def next_step() -> None:
    await asyncio.sleep(0)


async def test_a_head_and_a_body_written_in_one_step_leave_as_one_write() -> None:
    sent = RecordingTransport()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b'{"ok":true}')
    await next_step()
    assert sent.calls == [("write", b'HTTP/1.1 200 OK\r\n\r\n{"ok":true}')]


async def test_a_lone_write_leaves_at_the_end_of_the_step() -> None:
    sent = RecordingTransport()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())
    transport.write(b"head")
    assert sent.calls == []
    assert transport.get_write_buffer_size() == 4
    await next_step()
    assert sent.calls == [("write", b"head")]


async def test_writes_keep_their_order_across_steps() -> None:
    sent = RecordingTransport()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())
    for chunk in (b"a", b"b", b"c"):
        transport.write(chunk)
    await next_step()
    transport.write(b"d")
    await next_step()
    assert b"".join(data for _, data in sent.calls) == b"abcd"


async def test_close_and_write_eof_send_a_held_write_first() -> None:
    loop = asyncio.get_running_loop()
    sent = RecordingTransport()
    transport = CoalescingTransport(sent, loop)
    transport.write(b"last words")
    transport.close()
    assert sent.calls == [("write", b"last words"), ("close", None)]

    sent = RecordingTransport()
    transport = CoalescingTransport(sent, loop)
    transport.write(b"tail")
    transport.write_eof()
    await next_step()
    assert sent.calls == [("write", b"tail"), ("write_eof", None)]


async def test_abort_drops_a_held_write() -> None:
    sent = RecordingTransport()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await next_step()
    assert sent.calls == [("abort", None)]


async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for part in (b"one ", b"two ", b"three"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b""})


async def test_a_chunked_response_arrives_whole_and_in_order() -> None:
    async with running_server(streaming) as server, httpx.AsyncClient() as client:
        for _ in range(3):  # the same kept-alive connection, three times
            response = await client.get(server.base_url)
            assert response.text == "one two three"


async def test_pipelined_requests_on_one_connection_are_each_answered() -> None:
    async with running_server(streaming) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        request = f"GET / HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode()
        writer.write(request * 2 + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        received = await asyncio.wait_for(reader.read(), 10)  # until the server closes
        writer.close()
    assert received.count(b"HTTP/1.1 200 OK") == 3
    # Chunked encoding keeps each body's pieces in order, one body after another.
    assert received.count(b"5\r\nthree\r\n") == 3
