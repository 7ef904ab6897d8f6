"""Cross-cutting HTTP behaviour: request metrics and logging, and security headers.

Requests are logged by route *template* ("/enroll/{token}"), method, status and duration: never
the raw path (it may hold a token), the query string, headers or the body.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from secure_msg.logging import get_logger, log_event
from secure_msg.web.metrics import Metrics

log = get_logger("secure_msg.request")

METRICS = web.AppKey("metrics", Metrics)
HSTS = web.AppKey("hsts", bool)

CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
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


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, errors included, gets the same headers."""
    for name, value in _ALWAYS.items():
        response.headers.setdefault(name, value)
    # Handlers serving cacheable static files set their own Cache-Control; all else is no-store.
    response.headers.setdefault("Cache-Control", "no-store")
    if request.app[HSTS]:
        response.headers.setdefault("Strict-Transport-Security", "max-age=63072000")
