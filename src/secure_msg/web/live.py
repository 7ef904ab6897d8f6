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
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from secure_msg.errors import SecureMsgError
from secure_msg.logging import get_logger, log_event
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
from secure_msg.web.metrics import Gauge
from secure_msg.web.middleware import METRICS
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services

log = get_logger(__name__)

AUTH_TIMEOUT_SECONDS = 10.0
RECHECK_SECONDS = 60.0
SESSION_ENDED = 4401  # close code: no valid session (never had one, or it ended)
UNAUTHORIZED = "unauthorized"  # close reason when the first message held no valid session
GOING_AWAY_REASON = "server-stopping"  # with 1001: the client reconnects, to this or a peer
# The open sockets, so that a stopping server closes them: aiohttp's shutdown waits for every
# running handler, and a live socket's runs until the client goes (up to its 60 s timeout).
_OPEN: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("live_sockets")


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
    request.app[_OPEN].add(ws)
    try:
        return await _serve(request, ws)
    finally:
        request.app[_OPEN].discard(ws)


async def _serve(request: web.Request, ws: web.WebSocketResponse) -> web.WebSocketResponse:
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
    socket = _LiveSocket(request, ws, subscription, token)
    try:
        # This task only reads (client messages after auth are ignored), as a bare aiohttp
        # socket's would; it ends when the client goes or the sender closes the socket.
        async for _ in ws:
            pass
    finally:
        deps.hub.unsubscribe(subscription)
        await socket.finish()
    return ws


class _LiveSocket:
    """What an authenticated socket holds besides its reading task: a timer for the session
    recheck, and a sender task only while there are events to send (or a close to make).

    An idle socket thus costs one task (the reader) and one timer, like a bare aiohttp
    socket plus the timer; it used to hold three tasks, an asyncio.Event, a future and a
    timeout (docs/performance.md, "Idle live connections": 1.65 -> 1.3 of bare's memory).
    Logout, a password change and recovery end the subscription at once (services/live.py);
    the session is also checked again on the clock, busy or idle, for sessions that simply
    expire."""

    __slots__ = ("_check", "_request", "_sender", "_timer", "_token", "subscription", "ws")

    def __init__(self, request: web.Request, ws: web.WebSocketResponse,
                 subscription: Subscription, token: str | None) -> None:
        self._request = request
        self.ws = ws
        self.subscription = subscription
        self._token = token
        self._sender: asyncio.Task[None] | None = None
        self._check: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        subscription.on_change = self._wake
        self._arm()
        self._wake()  # events queued, or the session ended, while "ready" was being sent

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(RECHECK_SECONDS, self._recheck)

    def _recheck(self) -> None:
        self._timer = None
        self._check = asyncio.ensure_future(self._still_valid())

    async def _still_valid(self) -> None:
        try:
            await account_service.authenticate(services(self._request).accounts, self._token)
        except SecureMsgError:
            self.subscription.end(SESSION_EXPIRED)
            return
        except Exception as exc:  # no task awaits this one: say so, and try again
            # A database that failed for a moment must not end the socket, nor leave it
            # unchecked for good: the next minute checks again.
            log_event(log, logging.ERROR, "live.recheck_failed", error=type(exc).__name__)
        finally:
            self._check = None
        if not self.ws.closed:
            self._arm()

    def _wake(self) -> None:
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        """Send the queued events in order, then stop; close the socket if the session ended.
        No await between finding the queue empty and clearing `_sender`, so an event queued
        after that starts a new sender and none is left behind."""
        try:
            while (event := self.subscription.pop()) is not None and not self.ws.closed:
                await self.ws.send_str(event_text(event))
            if self.subscription.ended:
                # Why, as the close reason: the old device says "your password was changed on
                # another device" rather than showing the login page with no explanation.
                await self.ws.close(code=SESSION_ENDED,
                                    message=self.subscription.reason.encode())
        except ConnectionError:  # aiohttp's ClientConnectionResetError on a closing transport
            return  # the client went away meanwhile: the reader ends the socket
        finally:
            if self._sender is asyncio.current_task():
                self._sender = None

    async def finish(self) -> None:
        """The reader has stopped: stop the clock, let a close in progress end, close."""
        self.subscription.on_change = None
        if self._timer is not None:
            self._timer.cancel()
        if self._check is not None:
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check
        sender = self._sender
        if sender is not None:
            if self.subscription.ended:
                await asyncio.shield(sender)  # it is closing with the reason
            else:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
        if self.subscription.ended:
            await self.ws.close(code=SESSION_ENDED, message=self.subscription.reason.encode())
        else:
            await self.ws.close(code=WSCloseCode.OK)


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


async def _going_away(app: web.Application) -> None:
    """On shutdown: close every live socket with 1001; each client reconnects with backoff.
    Events missed meanwhile are not sent again: they are hints (protocol §10.5)."""
    opened = app[_OPEN]  # by name first: mypy reads list(app[_OPEN]) as the wrong key type
    sockets = list(opened)
    if sockets:
        log_event(log, logging.INFO, "live.going_away", sockets=len(sockets))
    await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY,
                                    message=GOING_AWAY_REASON.encode()) for ws in sockets),
                         return_exceptions=True)


def setup_routes(app: web.Application) -> None:
    opened: set[web.WebSocketResponse] = set()
    app[_OPEN] = opened
    app.on_shutdown.append(_going_away)
    app[METRICS].register(Gauge(
        "secure_msg_live_sockets", "Live sockets open on this process now (authenticated or "
        "not yet).", lambda: len(opened)))
    add_route(app, "GET", "/api/live", live, tags=["booklets"],
              summary="WebSocket of new-entry events; first message {\"token\": …}",
              description="Events: {type: entry, booklet_id, seq, kind, author_id}; {type: "
              "grant | appointments | removed, booklet_id}; {type: member, booklet_id, account_id, "
              "change: joined|withdrawn|expired}; {type: booklet, booklet_id, status} "
              "when a booklet is closed. Closes with code 4401 when the session ends, the reason "
              "saying why: logged-out, password-changed, recovered, session-expired or "
              "unauthorized; with 1001 (server-stopping) when the server stops: reconnect.",
              status=101, errors=(400,))
