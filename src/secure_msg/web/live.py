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

from aiohttp import WSCloseCode, WSMsgType, web

from secure_msg.errors import SecureMsgError
from secure_msg.services import account_service
from secure_msg.services.live import (
    SESSION_EXPIRED,
    BookletEvent,
    LiveEvent,
    MemberEvent,
    ReaderEvent,
    Subscription,
)
from secure_msg.web.auth import well_formed_token
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services

AUTH_TIMEOUT_SECONDS = 10.0
RECHECK_SECONDS = 60.0
SESSION_ENDED = 4401  # close code: no valid session (never had one, or it ended)
UNAUTHORIZED = "unauthorized"  # close reason when the first message held no valid session


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
        check = account_service.session_check(deps.accounts, token)
        session = await deps.db.read(check)
    except SecureMsgError:
        await ws.send_json({"type": "error", "error": UNAUTHORIZED})
        await ws.close(code=SESSION_ENDED, message=UNAUTHORIZED.encode())
        return ws
    subscription = deps.hub.subscribe(session.account_id, check.token_hash)
    await ws.send_json({"type": "ready"})
    reader = asyncio.ensure_future(_drain(ws))
    try:
        await _forward(request, ws, subscription, reader, token)
    finally:
        deps.hub.unsubscribe(subscription)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        if subscription.ended:
            # Why, as the close reason: the old device says "your password was changed on
            # another device" rather than showing the login page with no explanation.
            await ws.close(code=SESSION_ENDED, message=subscription.reason.encode())
        else:
            await ws.close(code=WSCloseCode.OK)
    return ws


async def _forward(request: web.Request, ws: web.WebSocketResponse, subscription: Subscription,
                   reader: asyncio.Future[None], token: str | None) -> None:
    """Send events until the client goes away or the session ends. Logout, a password change
    and recovery end the subscription at once (services/live.py); the session is also checked
    again on a clock, busy or idle, for sessions that simply expire."""
    loop = asyncio.get_running_loop()
    recheck_at = loop.time() + RECHECK_SECONDS
    while not ws.closed and not reader.done() and not subscription.ended:
        if loop.time() >= recheck_at:
            if not await _still_valid(request, token):
                subscription.end(SESSION_EXPIRED)
                return
            recheck_at = loop.time() + RECHECK_SECONDS
        event = subscription.pop()
        if event is None:
            # Only an idle connection waits with a task; under load events are queued and go
            # out one by one without one (a task and a wait per event cost more than the send).
            waiter = asyncio.ensure_future(subscription.wait())
            await asyncio.wait({waiter, reader}, timeout=max(0.0, recheck_at - loop.time()),
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            continue
        await ws.send_str(event_text(event))


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
def event_text(event: LiveEvent) -> str:
    if isinstance(event, MemberEvent):
        return json.dumps({"type": "member", "booklet_id": event.booklet_id.hex(),
                           "account_id": event.account_id.hex(), "change": event.change})
    if isinstance(event, BookletEvent):
        return json.dumps({"type": "booklet", "booklet_id": event.booklet_id.hex(),
                           "status": event.status})
    if isinstance(event, ReaderEvent):
        return json.dumps({"type": event.type, "booklet_id": event.booklet_id.hex()})
    return json.dumps({"type": "entry", "booklet_id": event.booklet_id.hex(), "seq": event.seq,
                       "kind": event.kind, "author_id": event.author_id.hex()})


def setup_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/live", live, tags=["booklets"],
              summary="WebSocket of new-entry events; first message {\"token\": …}",
              description="Events: {type: entry, booklet_id, seq, kind, author_id}; {type: "
              "grant | appointments | removed, booklet_id}; {type: member, booklet_id, account_id, "
              "change: joined|withdrawn|expired}; {type: booklet, booklet_id, status} "
              "when a booklet is closed. Closes with code 4401 when the session ends, the reason "
              "saying why: logged-out, password-changed, recovered, session-expired or "
              "unauthorized.",
              status=101, errors=(400,))
