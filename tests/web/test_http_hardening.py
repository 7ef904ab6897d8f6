"""The HTTP connection on the real server (`secure-msg serve`, a subprocess), over bare sockets
(issue 14, defects 3, 5 and 9): what aiohttp refuses is problem+json with our headers and no
echo; slow heads, slow bodies and idle connections are closed; connections are capped; the
Server header names no versions; HEAD answers wherever GET does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from secure_msg.testing.raw_http import RawConnection, RawResponse
from secure_msg.testing.server_process import ServerProcess, start_server
from secure_msg.web.middleware import CSP

HEADER_TIMEOUT = 1
KEEPALIVE_TIMEOUT = 4
BODY_TIMEOUT = 1
TIMEOUTS = (f"header_timeout_seconds = {HEADER_TIMEOUT}\n"
            f"keepalive_timeout_seconds = {KEEPALIVE_TIMEOUT}\n"
            f"body_timeout_seconds = {BODY_TIMEOUT}\n")
SLACK = 2.0  # seconds a close may come after its deadline on a busy machine


Opener = Callable[[], AbstractAsyncContextManager[RawConnection]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("hardening"), server_toml=TIMEOUTS)
    yield process
    process.stop()


def _open(server: ServerProcess) -> AbstractAsyncContextManager[RawConnection]:
    url = URL(server.base_url)
    return RawConnection.open(str(url.host), int(url.port or 0))


def _assert_problem(response: RawResponse, status: int) -> dict[str, object]:
    assert response.status == status
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Server"] == "secure-msg"
    body = response.json()
    assert body["status"] == status
    return dict(body)


async def test_what_aiohttp_refuses_is_problem_json_without_the_request_in_it(
    server: ServerProcess,
) -> None:
    """An 8 KB request line and Content-Length with Transfer-Encoding: 400 problem+json with
    the security headers, quoting nothing of the request; then the connection closes."""
    requests = [
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/prelogin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
    ]
    for raw in requests:
        async with _open(server) as conn:
            await conn.send(raw)
            response = await conn.response()
            body = _assert_problem(response, 400)
            assert body["type"] == "bad-request"
            for echoed in (b"aaaa", b"bbbb", b"Transfer-Encoding", b"chunked"):
                assert echoed not in response.body
            assert await conn.closed_within(SLACK)


async def test_the_server_header_names_no_versions(server: ServerProcess) -> None:
    """Every response says `Server: secure-msg`: no Python or aiohttp version."""
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/api/me", "/no-such-page", "/static/app.css"):
            async with http.get(server.url(path)) as response:
                assert response.headers.getall("Server") == ["secure-msg"], path


async def test_head_answers_wherever_get_does_and_the_document_is_unchanged(
    server: ServerProcess,
) -> None:
    """HEAD on GET routes: the GET's status and headers without a body (405 before); the
    OpenAPI document still lists GET only."""
    async with aiohttp.ClientSession() as http:
        for path, status in (("/healthz", 200), ("/api/openapi.json", 200), ("/", 200),
                             ("/static/app/api.mjs", 200),
                             ("/api/me", 401), ("/api/booklets", 401)):
            async with http.get(server.url(path)) as got:
                get_length = got.headers.get("Content-Length")
                assert got.status == status
            async with http.head(server.url(path)) as head:
                assert head.status == status, path
                assert head.headers.get("Content-Length") == get_length
                assert head.headers["Content-Security-Policy"] == CSP
                assert await head.read() == b""
        async with http.get(server.url("/api/openapi.json")) as response:
            document = await response.json()
    assert all("head" not in ops for ops in document["paths"].values())


async def test_slow_heads_are_closed_after_the_header_timeout(server: ServerProcess) -> None:
    """Twenty connections that trickle a request head a byte at a time, and one that sends
    nothing, are all closed by the header timeout (well before keep-alive's); the server
    answers others meanwhile."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200

    async def trickle() -> bool:
        async with _open(server) as conn:
            sender = asyncio.create_task(_send_slowly(conn, head))
            try:
                return await conn.closed_within(HEADER_TIMEOUT + SLACK)
            finally:
                sender.cancel()

    async def silent() -> bool:
        async with _open(server) as conn:
            return await conn.closed_within(HEADER_TIMEOUT + SLACK)

    results = asyncio.gather(*(trickle() for _ in range(20)), silent())
    async with aiohttp.ClientSession() as http, http.get(server.url("/healthz")) as response:
        assert response.status == 200
    assert all(await results)


async def _send_slowly(conn: RawConnection, data: bytes) -> None:
    for byte in data:
        await conn.send(bytes([byte]))
        await asyncio.sleep(0.2)


async def test_a_slow_head_on_a_kept_alive_connection_is_closed_too(
    server: ServerProcess,
) -> None:
    """After a first request, the next head's first byte starts the header timeout."""
    async with _open(server) as conn:
        await conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await conn.response()).status == 200
        sender = asyncio.create_task(_send_slowly(conn, b"GET /healthz HTTP/1.1\r\n" * 20))
        try:
            assert await conn.closed_within(HEADER_TIMEOUT + SLACK)
        finally:
            sender.cancel()


async def test_an_idle_connection_is_closed_after_the_keepalive_timeout(
    server: ServerProcess,
) -> None:
    """A kept-alive connection that sends nothing more stays open for the keep-alive time
    (the header timeout does not cut it short), then is closed."""
    async with _open(server) as conn:
        await conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await conn.response()).status == 200
        assert not await conn.closed_within(HEADER_TIMEOUT + 1)
        assert await conn.closed_within(KEEPALIVE_TIMEOUT + SLACK)


async def test_a_body_that_does_not_arrive_in_time_is_408_and_closed(
    server: ServerProcess,
) -> None:
    """A head that announces 100 bytes and sends 10: 408 request-timeout after the body
    timeout, then the connection closes."""
    async with _open(server) as conn:
        await conn.send(b"POST /api/prelogin HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                        b'{"login": ')
        response = await conn.response(BODY_TIMEOUT + SLACK)
        assert _assert_problem(response, 408)["type"] == "request-timeout"
        assert await conn.closed_within(SLACK)


async def test_a_live_socket_outlives_the_header_and_keepalive_timeouts(
    server: ServerProcess,
) -> None:
    """A WebSocket is no slow head: it is still open past both timeouts and answers."""
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url("/api/live")) as ws:
        with pytest.raises(TimeoutError):  # nothing comes, and the socket is not closed
            await ws.receive(timeout=KEEPALIVE_TIMEOUT + 1)
        await ws.send_str(json.dumps({"token": "x" * 43}))
        assert json.loads((await ws.receive(timeout=5)).data)["error"] == "unauthorized"


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Opener]:
    process = start_server(tmp_path, server_toml="max_connections = 3\n" + TIMEOUTS)
    yield lambda: _open(process)
    process.stop()


async def test_one_connection_more_than_the_cap_gets_503_and_is_closed(capped: Opener) -> None:
    """With max_connections = 3 and three open, a fourth is answered 503 service-unavailable
    with Retry-After and closed; once one closes, a new one is served."""
    async with capped() as first, capped() as second, capped() as third:
        for conn in (first, second, third):
            await conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await conn.response()).status == 200
        async with capped() as fourth:
            response = await fourth.response()
            assert _assert_problem(response, 503)["type"] == "service-unavailable"
            assert response.headers["Retry-After"] == "5"
            assert await fourth.closed_within(SLACK)
        await first.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await first.response()).status == 200
        assert await first.closed_within(SLACK)
    async with capped() as fifth:
        await fifth.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await fifth.response()).status == 200
