"""What an idle live socket holds (issue 18: memory per idle connection within 1.5x bare aiohttp's,
docs/performance.md "Idle live connections"), and that the lean idle path still does its work:
events after a quiet spell arrive in order, and an idle socket whose session expired is closed
by the clock with no event to wake it."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from secure_msg.web import live as live_module
from secure_msg.web.live import SESSION_ENDED

from .conftest import World

SOCKETS = 20
AIOHTTP_TASKS = 2  # per WebSocket: RequestHandler.start and ._handle_request


async def _listen(world: World, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await world.http.ws_connect("/api/live")
    await ws.send_json({"token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "ready"
    return ws


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.02)


async def _task_counts() -> tuple[int, int]:
    """The fewest and the most tasks over a few samples: the app's background loops (the
    outbox's pass) come and go by one task or so, and only what stays counts."""
    counts = []
    for _ in range(8):
        counts.append(len(asyncio.all_tasks()))
        await asyncio.sleep(0.02)
    return min(counts), max(counts)


async def test_an_idle_socket_adds_no_task_beyond_aiohttps_own(world: World) -> None:
    """Twenty idle, authenticated sockets add no task to the server beyond aiohttp's own two
    per WebSocket (the connection's and the request's, in which the handler reads, as a bare
    aiohttp socket's does). They used to add two more each, a drainer and a waiter, with an
    Event, a future and a timeout: most of the difference to bare aiohttp (1.65x its memory
    at 10,000 sockets)."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    await _settle()
    before = (await _task_counts())[1]
    sockets = [await _listen(world, mum.profile.token) for _ in range(SOCKETS)]
    await _settle()
    added = (await _task_counts())[0] - before
    assert added <= AIOHTTP_TASKS * SOCKETS, f"{added} tasks for {SOCKETS} idle sockets"
    # Still live: an entry reaches every one of them, and the sender tasks are gone after.
    posted = await therapist.post(booklet, "note", text="hei")
    for ws in sockets:
        assert (await ws.receive_json(timeout=5))["seq"] == posted["seq"]
    await _settle()
    assert (await _task_counts())[0] - before <= AIOHTTP_TASKS * SOCKETS
    for ws in sockets:
        await ws.close()


async def test_events_after_a_quiet_spell_arrive_in_order(world: World) -> None:
    """A burst posted to an idle socket arrives complete and in sequence order."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    ws = await _listen(world, mum.profile.token)
    await asyncio.sleep(0.2)
    posted = [(await therapist.post(booklet, "note", text=str(i)))["seq"] for i in range(6)]
    got = [(await ws.receive_json(timeout=5))["seq"] for _ in posted]
    assert got == posted
    await ws.close()


async def test_an_idle_socket_of_an_expired_session_is_closed_by_the_clock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No event and no message: the recheck timer alone closes the socket, saying why."""
    monkeypatch.setattr(live_module, "RECHECK_SECONDS", 0.2)
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    ws = await _listen(world, mum.profile.token)
    await asyncio.sleep(0.5)  # a few rechecks pass while the session is valid
    assert not ws.closed
    world.clock.advance(90 * 24 * 3600)  # past any session lifetime
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert (ws.close_code, msg.extra) == (SESSION_ENDED, "session-expired")


async def test_a_recheck_that_fails_keeps_the_socket_and_checks_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session check that fails for another reason than the session (the database, for a
    moment) neither closes the socket nor stops the clock: the next check still ends an
    expired session."""
    monkeypatch.setattr(live_module, "RECHECK_SECONDS", 0.2)
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    ws = await _listen(world, mum.profile.token)
    real = live_module.account_service.authenticate
    failures = 0

    async def failing(*args: object, **kwargs: object) -> object:
        nonlocal failures
        failures += 1
        raise RuntimeError("database is locked")

    monkeypatch.setattr(live_module.account_service, "authenticate", failing)
    await asyncio.sleep(0.5)
    assert failures >= 1
    assert not ws.closed
    monkeypatch.setattr(live_module.account_service, "authenticate", real)
    posted = await therapist.post(booklet, "note", text="hei")
    assert (await ws.receive_json(timeout=5))["seq"] == posted["seq"]
    world.clock.advance(90 * 24 * 3600)
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert (ws.close_code, msg.extra) == (SESSION_ENDED, "session-expired")
