"""Live sockets end with their session (issue 14, defect 7): logout, a password change and
recovery close them at once instead of at the next minute's check; removal from a booklet stops
that booklet's events while the socket serves the member's other booklets."""

from __future__ import annotations

from typing import Any

import aiohttp

from secure_msg.client import Client
from secure_msg.web.live import SESSION_ENDED

from .conftest import PASSWORD, World

# A bound on waiting for something that happens at once; the old code took 60 s.
PROMPTLY = 5.0


async def _listen(world: World, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await world.http.ws_connect("/api/live")
    await ws.send_json({"token": token})
    assert (await ws.receive_json(timeout=PROMPTLY))["type"] == "ready"
    return ws


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The server closes the socket as a session that ended, with no event before it."""
    msg = await ws.receive(timeout=PROMPTLY)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert ws.close_code == SESSION_ENDED


async def _event(ws: aiohttp.ClientWebSocketResponse) -> Any:
    return await ws.receive_json(timeout=PROMPTLY)


async def _second_session(world: World, login: str, password: str = PASSWORD) -> Client:
    other = world.new_client()
    await other.login(world.base, login, password)
    return other


async def test_logout_closes_that_sessions_socket_at_once(world: World) -> None:
    """The logged-out session's socket closes; the same person's other session keeps getting
    events."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    phone = await _second_session(world, "aiti")
    ws, phone_ws = await _listen(world, mum.profile.token), await _listen(world,
                                                                          phone.profile.token)
    await mum.logout()
    await _closed(ws)
    posted = await therapist.post(booklet, "note", text="hei")
    assert (await _event(phone_ws))["seq"] == posted["seq"]
    await phone_ws.close()


async def test_password_change_closes_the_other_sessions_sockets(world: World) -> None:
    """After a password change the other sessions' sockets close; the changing session's own
    socket stays and gets the next entry."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    phone = await _second_session(world, "aiti")
    own_ws, phone_ws = await _listen(world, mum.profile.token), await _listen(world,
                                                                              phone.profile.token)
    await mum.change_password(PASSWORD, "uusi salasana 2026")
    await _closed(phone_ws)
    posted = await therapist.post(booklet, "note", text="hei")
    assert (await _event(own_ws))["seq"] == posted["seq"]
    await own_ws.close()


async def test_recovery_closes_every_socket_of_the_account(world: World) -> None:
    """Recovery ends every old session, and with them every socket."""
    client = world.new_client()
    recovery_key = await client.enroll(await world.staff_link(), "unohtaja", PASSWORD)
    other = await _second_session(world, "unohtaja")
    sockets = [await _listen(world, c.profile.token) for c in (client, other)]
    await world.new_client().recover(world.base, "unohtaja", recovery_key, "palautettu 2026")
    for ws in sockets:
        await _closed(ws)


async def test_a_removed_member_gets_no_event_of_that_booklet_after_removal(world: World) -> None:
    """After removal from one booklet the member's socket stays open for another; the next
    event it gets is the other booklet's, so nothing of the first came in between (events on
    one socket keep their order)."""
    therapist = await world.therapist()
    first, second = await therapist.create_booklet("A"), await therapist.create_booklet("B")
    dad = await world.family(therapist, first, "isa")
    link = (await therapist.invite(second, "guardian", name="isa"))["link"]
    await dad.accept(world.base + link[link.index("/enroll/"):])
    ws = await _listen(world, dad.profile.token)
    await therapist.remove(first, dad.profile.account_id)
    await therapist.post(first, "note", text="ei isälle")
    posted = await therapist.post(second, "note", text="isälle")
    assert await _event(ws) == {"type": "entry", "booklet_id": second, "seq": posted["seq"],
                                "kind": 2, "author_id": therapist.profile.account_id}
    await ws.close()
