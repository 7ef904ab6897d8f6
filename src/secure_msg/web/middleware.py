"""Cross-cutting HTTP behaviour: request metrics and logging, security headers, body timeout.

Requests are logged by route *template* ("/enroll/{token}"), method, status and duration: never
the raw path (it may hold a token), the query string, headers or the body.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from secure_msg.errors import RequestTimeout
from secure_msg.logging import get_logger, log_event
from secure_msg.web.metrics import Metrics

log = get_logger("secure_msg.request")

METRICS = web.AppKey("metrics", Metrics)
HSTS = web.AppKey("hsts", bool)
BODY_TIMEOUT = web.AppKey("body_timeout", float)
# Routes whose bodies may take longer (uploads: [blobs] upload_timeout_seconds), by template.
LONG_BODY_TIMEOUTS = web.AppKey("long_body_timeouts", dict[str, float])
# In place of aiohttp's "Python/3.11 aiohttp/3.x": no versions for a scanner to look up.
SERVER = "secure-msg"

# img-src blob:: an attached JPEG/PNG/WebP is previewed from a blob: URL of the bytes the
# device decrypted and checked (docs/protocol.md §4.7); images only, no other blob: content.
CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; img-src 'self' blob:"
)
_ALWAYS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def route_template(request: web.Request) -> str:
    """The matched route's template, or "unmatched": a bounded label with no user data in it."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: sees the final status, after problem_middleware rendered any error."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # only reaches here for non-error statuses (redirects)
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = route_template(request)
        request.app[METRICS].observe_request(route, request.method, status, elapsed)
        log_event(log, logging.INFO, "request", method=request.method, route=route,
                  status=status, duration_ms=round(elapsed * 1000, 2))


@web.middleware
async def body_timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A body still arriving after [server] body_timeout_seconds fails its reader with 408
    (RequestTimeout), inside problem_middleware. The body is not read here: a handler that
    refuses first (401) never buffers it. Most bodies are whole before the handler starts."""
    if not request.body_exists or request.content.is_eof():
        return await handler(request)
    loop = asyncio.get_running_loop()
    timeout = request.app.get(LONG_BODY_TIMEOUTS, {}).get(
        route_template(request), request.app[BODY_TIMEOUT])
    timer = loop.call_later(timeout, _body_too_slow, request)
    try:
        return await handler(request)
    finally:
        timer.cancel()


def _body_too_slow(request: web.Request) -> None:
    if not request.content.is_eof():
        request.content.set_exception(RequestTimeout("The request body did not arrive in time."))


def fixed_headers(hsts: bool) -> dict[str, str]:
    """The headers security_headers gives a response, for responses made outside the app
    (web/protocol.py: a request that is not HTTP, one connection too many)."""
    hsts_header = {"Strict-Transport-Security": "max-age=63072000"} if hsts else {}
    return {**_ALWAYS, "Cache-Control": "no-store", **hsts_header, "Server": SERVER}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, errors included, gets the same headers."""
    for name, value in _ALWAYS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = SERVER  # aiohttp has set its own by now
    # Handlers serving cacheable static files set their own Cache-Control; all else is no-store.
    response.headers.setdefault("Cache-Control", "no-store")
    if request.app[HSTS]:
        response.headers.setdefault("Strict-Transport-Security", "max-age=63072000")
