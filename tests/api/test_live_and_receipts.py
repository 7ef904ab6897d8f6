"""Live events over the WebSocket, read receipts and unread counts."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from secure_msg.web import live as live_module

from .conftest import World


async def _listen(world: World, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await world.http.ws_connect("/api/live")
    await ws.send_json({"token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "ready"
    return ws


async def _next_event(ws: aiohttp.ClientWebSocketResponse, wait: float = 5) -> Any:
    return await ws.receive_json(timeout=wait)


async def test_members_get_live_events_and_a_removed_member_stops(world: World) -> None:
    """Each member's open socket is told of a new entry (ids only, no envelope); after removal
    a member's socket gets nothing for later entries while the others still do."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    dad = await world.family(therapist, booklet, "isa")
    mum_ws = await _listen(world, mum.profile.token)
    dad_ws = await _listen(world, dad.profile.token)
    posted = await therapist.post(booklet, "note", text="hei")
    for ws in (mum_ws, dad_ws):
        event = await _next_event(ws)
        assert event == {"type": "entry", "booklet_id": booklet, "seq": posted["seq"],
                         "kind": 2, "author_id": therapist.profile.account_id}
    await therapist.remove(booklet, dad.profile.account_id)
    assert await _next_event(dad_ws) == {"type": "removed", "booklet_id": booklet}
    later = await therapist.post(booklet, "note", text="vain äidille")
    assert (await _next_event(mum_ws))["seq"] == later["seq"]
    try:
        leaked = await _next_event(dad_ws, wait=0.5)
    except TimeoutError:
        leaked = None
    assert leaked is None
    await mum_ws.close()
    await dad_ws.close()


async def test_a_logged_out_session_stops_getting_events_while_others_post(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket whose session was logged out is closed at the next check even while entries
    keep coming (the check used to wait for a quiet minute, which a busy booklet never has)."""
    monkeypatch.setattr(live_module, "RECHECK_SECONDS", 0.3)
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    ws = await _listen(world, mum.profile.token)
    await mum.logout()
    got, closed = 0, False
    for i in range(20):  # an entry every 0.1 s for 2 s: never a quiet 0.3 s
        await therapist.post(booklet, "note", text=f"{i}")
        while True:
            try:
                msg = await ws.receive(timeout=0.1)
            except TimeoutError:
                break
            if msg.type is not aiohttp.WSMsgType.TEXT:
                closed = True
                break
            got += 1
        if closed:
            break
    assert closed, f"the socket of a logged-out session was still open after {got} events"
    assert got <= 8  # what was posted before the first check after the logout
    await ws.close()


async def test_live_socket_refuses_a_bad_token(world: World) -> None:
    """Without a valid token in the first message the socket says unauthorized and closes."""
    ws = await world.http.ws_connect("/api/live")
    await ws.send_json({"token": "not-a-token"})
    assert (await ws.receive_json(timeout=5)) == {"type": "error", "error": "unauthorized"}
    msg = await ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await ws.close()


async def test_read_receipts_and_unread_counts(world: World) -> None:
    """Unread counts the entries a member holds keys for past their mark; the mark only moves
    forward, never past the head, and receipts list current members only."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    for i in range(3):
        await therapist.post(booklet, "note", text=f"{i}")
    (row,) = await mum.booklets()
    assert (row["unread"], row["last_seq"], row["title"]) == (4, 4, "B")
    await mum.mark_read(booklet, 3)
    await mum.mark_read(booklet, 1)  # never backwards
    await mum.mark_read(booklet, 99)  # never past the head
    status, body = await world.raw("GET", f"/api/booklets/{booklet}/receipts", mum.profile.token)
    assert status == 200
    marks = {r["account_id"]: r["read_seq"] for r in body["receipts"]}
    assert marks == {mum.profile.account_id: 4}
    (row,) = await mum.booklets()
    assert row["unread"] == 0
    status, body = await world.raw("POST", f"/api/booklets/{booklet}/receipts",
                                   mum.profile.token, json={"read_seq": -1})
    assert (status, body["type"]) == (422, "validation-failed")
