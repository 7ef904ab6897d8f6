"""GET /api/live: a WebSocket that tells a member "booklet B has entry N" as it is posted.

The browser cannot set headers on a WebSocket, and tokens never go in URLs, so the first message
must be {"token": "..."}. Events carry ids and sequence numbers only; the client then fetches the
entry through the normal, access-checked API.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json

from aiohttp import WSMsgType, web

from secure_msg.errors import SecureMsgError
from secure_msg.services import account_service
from secure_msg.services.live import EntryEvent
from secure_msg.web.auth import well_formed_token
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services

AUTH_TIMEOUT_SECONDS = 10.0
RECHECK_SECONDS = 60.0


async def _authenticate(ws: web.WebSocketResponse, request: web.Request) -> str | None:
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_SECONDS):
            msg = await ws.receive()
    except TimeoutError:
        return None
    if msg.type is not WSMsgType.TEXT:
        return None
    try:
        token = json.loads(msg.data).get("token")
    except (ValueError, RecursionError, AttributeError):  # not JSON, too deep, not an object
        return None
    return well_formed_token(token)


async def live(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    deps = services(request)
    token = await _authenticate(ws, request)
    try:
        session = await account_service.authenticate(deps.accounts, token)
    except SecureMsgError:
        await ws.send_json({"type": "error", "error": "unauthorized"})
        await ws.close(code=4401)
        return ws
    queue = deps.hub.subscribe(session.account_id)
    await ws.send_json({"type": "ready"})
    reader = asyncio.ensure_future(_drain(ws))
    loop = asyncio.get_running_loop()
    # The session is checked again on a clock, busy or idle: a socket of a session that was
    # logged out or expired must stop even while events keep coming.
    recheck_at = loop.time() + RECHECK_SECONDS
    try:
        while not ws.closed and not reader.done():
            if loop.time() >= recheck_at:
                if not await _still_valid(request, token):
                    break
                recheck_at = loop.time() + RECHECK_SECONDS
            if queue.empty():
                # Only an idle connection waits with a task; under load events are queued and
                # go out below without one (a task and a wait per event cost more than the send).
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader},
                                             timeout=max(0.0, recheck_at - loop.time()),
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    continue
                await ws.send_str(event_text(getter.result()))
            while not queue.empty() and not ws.closed and loop.time() < recheck_at:
                await ws.send_str(event_text(queue.get_nowait()))
    finally:
        deps.hub.unsubscribe(session.account_id, queue)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()
    return ws


async def _still_valid(request: web.Request, token: str | None) -> bool:
    try:
        await account_service.authenticate(services(request).accounts, token)
    except SecureMsgError:
        return False
    return True


async def _drain(ws: web.WebSocketResponse) -> None:
    """Client messages after auth are ignored; this ends when the client goes away."""
    async for _ in ws:
        pass


@functools.lru_cache(maxsize=64)  # one event goes to every reader's socket: encode it once
def event_text(event: EntryEvent) -> str:
    return json.dumps({"type": "entry", "booklet_id": event.booklet_id.hex(), "seq": event.seq,
                       "kind": event.kind, "author_id": event.author_id.hex()})


def setup_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/live", live, tags=["booklets"],
              summary="WebSocket of new-entry events; first message {\"token\": …}",
              description="Events: {type: entry, booklet_id, seq, kind, author_id}.",
              status=101, errors=(400,))
