"""GET and PUT /api/me/state: the account's sealed client state (docs/protocol.md §6.5).

Only the session's own state is reachable: no route takes an account id. Request logs name the
route only (web/middleware.py); the blob is never logged.
"""

from __future__ import annotations

from aiohttp import web

from secure_msg.services import client_state_service as svc
from secure_msg.web.auth import require_session, session_check
from secure_msg.web.json_io import b64, read_body
from secure_msg.web.openapi import add_route
from secure_msg.web.request_types import ClientStateBody
from secure_msg.web.response_types import ClientState, StateVersion
from secure_msg.web.services import services


async def get_state(request: web.Request) -> web.Response:
    stored = await svc.get(services(request).client_state, session_check(request))
    answer: ClientState = {"version": stored.version,
                           "state": b64(stored.blob) if stored.blob is not None else None}
    return web.json_response(answer)


async def put_state(request: web.Request) -> web.Response:
    session = await require_session(request)  # 401 before any complaint about the body
    body = await read_body(request, ClientStateBody)
    stored = await svc.put(services(request).client_state, session, body.state,
                           base_version=body.base_version, version=body.version)
    answer: StateVersion = {"version": stored}
    return web.json_response(answer)


def setup_routes(app: web.Application) -> None:
    tags = ["accounts"]
    add_route(app, "GET", "/api/me/state", get_state, tags=tags, auth=True,
              summary="My sealed client state (version 0 and null when none)",
              response=ClientState)
    add_route(app, "PUT", "/api/me/state", put_state, tags=tags, auth=True,
              summary="Store my sealed client state if base_version is still the stored one",
              description="409 state-version-conflict (with current_version) when another "
                          "device wrote first: read, merge and write again.",
              request=ClientStateBody, response=StateVersion, errors=(401, 409, 413, 422))
