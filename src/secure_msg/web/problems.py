"""The one place errors become HTTP responses: RFC 9457 problem+json.

- `SecureMsgError` subclasses render with their own code, status and title.
- aiohttp's own HTTP errors (404 no route, 405, 413 body too large, …) render the same way.
- Anything else is a bug: a bare 500 problem with no detail; the traceback goes to the log only.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from secure_msg.errors import (
    HTTP_STATUS_ERRORS,
    BadRequest,
    MethodNotAllowed,
    RateLimited,
    SecureMsgError,
)
from secure_msg.logging import get_logger, log_event
from secure_msg.web.middleware import route_template

PROBLEM_CONTENT_TYPE = "application/problem+json"
log = get_logger(__name__)


def problem_body(error: SecureMsgError, instance: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": error.code,
        "title": error.title,
        "status": error.status,
        "detail": error.detail or error.title,
        "instance": instance,
    }
    for key, value in error.extensions.items():
        body.setdefault(key, value)
    return body


def problem_response(error: SecureMsgError, request: web.Request) -> web.Response:
    # `instance` is the path only: never the query string, which may carry tokens.
    return web.Response(
        status=error.status,
        body=json.dumps(problem_body(error, request.path), ensure_ascii=False).encode(),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=error.headers(),
    )


def _from_http_exception(exc: web.HTTPException) -> SecureMsgError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(set(exc.allowed_methods))
    if exc.status == 429:  # aiohttp never raises this itself; keep the Retry-After contract
        return RateLimited(60)
    return HTTP_STATUS_ERRORS.get(exc.status, BadRequest if exc.status < 500 else SecureMsgError)()


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SecureMsgError as error:
        if error.status == 500:  # a bug or broken data, never the user's doing: no detail out
            log.error("internal error", exc_info=True)
            return problem_response(SecureMsgError(), request)
        return problem_response(error, request)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and 2xx raised as exceptions pass through
            raise
        return problem_response(_from_http_exception(exc), request)
    except Exception:
        log_event(log, logging.ERROR, "unhandled exception", route=route_template(request))
        log.exception("traceback")
        return problem_response(SecureMsgError(), request)
