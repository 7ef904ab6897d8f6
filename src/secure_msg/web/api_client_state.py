"""GET and PUT /api/me/state: the account's sealed client state (docs/protocol.md §6.5).

Only the session's own state is reachable: no route takes an account id. Request logs name the
route only (web/middleware.py); the blob is never logged.
"""

from __future__ import annotations

from aiohttp import web

from secure_msg.crypto.client_state import MAX_VERSION
from secure_msg.services import client_state_service as svc
from secure_msg.web.api_accounts import B64
from secure_msg.web.auth import require_session, session_check
from secure_msg.web.json_io import b64, get_bytes, get_int, json_body
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services

VERSION = {"type": "integer", "minimum": 0, "maximum": MAX_VERSION}
STATE = {"type": "object", "required": ["version", "state"], "properties": {
    "version": VERSION, "state": {**B64, "type": ["string", "null"]}}}
PUT_BODY = {"type": "object", "required": ["base_version", "version", "state"], "properties": {
    "base_version": VERSION, "version": {**VERSION, "minimum": 1}, "state": B64}}


async def get_state(request: web.Request) -> web.Response:
    stored = await svc.get(services(request).client_state, session_check(request))
    return web.json_response({"version": stored.version,
                              "state": b64(stored.blob) if stored.blob is not None else None})


async def put_state(request: web.Request) -> web.Response:
    session = await require_session(request)  # 401 before any complaint about the body
    body = await json_body(request)
    base_version = get_int(body, "base_version", maximum=MAX_VERSION)
    version = get_int(body, "version", minimum=1, maximum=MAX_VERSION)
    blob = get_bytes(body, "state")
    stored = await svc.put(services(request).client_state, session, blob, base_version=base_version,
                           version=version)
    return web.json_response({"version": stored})


def setup_routes(app: web.Application) -> None:
    tags = ["accounts"]
    add_route(app, "GET", "/api/me/state", get_state, tags=tags, auth=True,
              summary="My sealed client state (version 0 and null when none)",
              response=STATE, errors=(401,))
    add_route(app, "PUT", "/api/me/state", put_state, tags=tags, auth=True,
              summary="Store my sealed client state if base_version is still the stored one",
              description="409 state-version-conflict (with current_version) when another "
                          "device wrote first: read, merge and write again.",
              request=PUT_BODY, response={"type": "object", "required": ["version"],
                                          "properties": {"version": VERSION}},
              errors=(400, 401, 409, 413, 415, 422))
