"""The HTTP connection: what happens before a request reaches the app, and outside it.

aiohttp answers a request it cannot parse (an 8 KB request line, Content-Length with
Transfer-Encoding, a byte that is not HTTP) from `RequestHandler.handle_error`, which runs
outside the app: no middleware and no on_response_prepare, so the answer was aiohttp's plain
text, quoting part of the request, without our headers. It has no setting for a header-read
timeout (its keep-alive timer, armed at connection open, was the nearest thing, at 3630 s) nor
for a connection cap. So the listening socket gets this `RequestHandler` subclass
(web/server.py), and it:

- answers what aiohttp refuses with problem+json, the security headers and nothing of the
  request (`handle_error`, the method aiohttp calls for exactly this);
- closes a connection whose request head is not complete `header_timeout` after the connection
  opened (its first request) or after the head's first byte (later requests);
- keeps at most `max_connections` open: one more gets 503 problem+json and is closed.

Idle keep-alive connections close after aiohttp's `keepalive_timeout`; a body that does not
arrive in time is 408 (web/middleware.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest

from secure_msg.errors import (
    HTTP_STATUS_ERRORS,
    BadRequest,
    SecureMsgError,
    ServiceUnavailable,
)
from secure_msg.logging import get_logger, log_event
from secure_msg.web.middleware import fixed_headers
from secure_msg.web.problems import PROBLEM_CONTENT_TYPE, problem_body

log = get_logger(__name__)

# aiohttp's defaults, stated: a request line or header line longer than this is refused (400).
MAX_LINE_BYTES = 8190
MAX_HEADERS = 128
TOO_MANY_RETRY_AFTER_SECONDS = 5


@dataclass
class ConnectionGuard:
    """Limits shared by every connection of one listening socket, and their count."""

    header_timeout: float
    max_connections: int
    hsts: bool
    open: int = 0

    def problem_bytes(self, error: SecureMsgError, extra: dict[str, str]) -> bytes:
        """A whole HTTP/1.1 response for `error`, for writing straight to a transport."""
        body = _problem_json(error)
        headers = {"Content-Type": PROBLEM_CONTENT_TYPE, "Content-Length": str(len(body)),
                   "Connection": "close", **fixed_headers(self.hsts), **extra}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return f"HTTP/1.1 {error.status} {error.title}\r\n{head}\r\n".encode() + body


def _problem_json(error: SecureMsgError) -> bytes:
    # No `instance`: the request's target was never read, or is not ours to repeat.
    body = problem_body(error, "")
    del body["instance"]
    return json.dumps(body).encode()


class GuardedRequestHandler(web.RequestHandler):
    def __init__(self, manager: web.Server, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._counted = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        guard = self._guard
        if guard.open >= guard.max_connections:
            # Refused before aiohttp knows of it: the server never registers this connection.
            error = ServiceUnavailable("Too many open connections; try again shortly.")
            assert isinstance(transport, asyncio.Transport)
            transport.write(guard.problem_bytes(
                error, {"Retry-After": str(TOO_MANY_RETRY_AFTER_SECONDS)}))
            transport.close()
            return
        guard.open += 1
        self._counted = True
        super().connection_made(transport)
        self._arm_head_timer()  # the first request's head is due from the connection's opening

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._counted:
            self._counted = False
            self._guard.open -= 1
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self._waiting_for_head():
            self._arm_head_timer()  # the first byte of a later request's head
        super().data_received(data)
        if self._head_timer is not None and not self._waiting_for_head():
            self._cancel_head_timer()  # the head is complete

    def _waiting_for_head(self) -> bool:
        # aiohttp's own test for "idle, waiting for the next request" (_process_keepalive).
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def _arm_head_timer(self) -> None:
        self._head_timer = self._loop.call_later(self._guard.header_timeout, self._head_too_slow)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._waiting_for_head():
            self.force_close()

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What aiohttp answers outside the app: problem+json, never the request's text."""
        if request.writer.output_size > 0:  # as aiohttp: a response has begun, none can follow
            raise ConnectionError("a response was already being sent")
        error = HTTP_STATUS_ERRORS.get(status, BadRequest if status < 500 else SecureMsgError)()
        if status >= 500:  # the app answered nothing usable: a bug, as in problem_middleware
            log_event(log, logging.ERROR, "unhandled exception", route="(protocol)")
            log.error("traceback", exc_info=exc)
        else:  # a client that does not speak HTTP/1.1 well enough; its bytes are not logged
            log_event(log, logging.INFO, "http.unparsable_request", status=status,
                      error=type(exc).__name__ if exc is not None else None)
        response = web.Response(
            status=error.status, body=_problem_json(error),
            content_type=PROBLEM_CONTENT_TYPE, headers={**fixed_headers(self._guard.hsts),
                                                        **error.headers()})
        response.force_close()
        return response


def protocol_factory(
    server: web.Server, guard: ConnectionGuard, keepalive_timeout: float,
) -> Callable[[], GuardedRequestHandler]:
    """What `loop.create_server` calls per connection, in place of `server` itself."""
    loop = asyncio.get_running_loop()

    def make() -> GuardedRequestHandler:
        return GuardedRequestHandler(
            server, guard, loop=loop, keepalive_timeout=keepalive_timeout, access_log=None,
            max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADERS,
        )

    return make
