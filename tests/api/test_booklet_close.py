"""Closing a booklet at the end of therapy (issue 17, item 7), on the in-process server: only
its therapist closes it; afterwards every kind of write is a 409 booklet-closed problem that
changes nothing, reading goes on, future appointments are cancelled without an SMS each,
queued reminders are skipped, and the family gets one neutral notice."""

from __future__ import annotations

from typing import Any

import pytest

from secure_msg.client import Client
from secure_msg.client.http import ClientError, b64e
from secure_msg.services import scheduler
from secure_msg.storage.txn import Txn
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World

MUM_PHONE = "+358401112222"
PROBLEM = "application/problem+json"


async def _join(world: World, therapist: Client, booklet: str, name: str,
                phone: str | None = None) -> Client:
    link = (await therapist.invite(booklet, "guardian", name=name, phone=phone))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], name, PASSWORD)
    return client


async def _rows(world: World, sql: str, *params: object) -> list[tuple[Any, ...]]:
    def read(conn: Txn) -> list[tuple[Any, ...]]:
        return list(conn.execute(sql, params).fetchall())

    return await world.http.app[SERVICES].db.read(read)


async def _snapshot(world: World, booklet: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the booklet that a refused write could have changed."""
    bid = bytes.fromhex(booklet)
    out = {}
    for table in ("entries", "members", "grants", "appointments", "periods", "notices",
                  "invitations", "booklet_rosters", "invitation_trust", "join_proofs"):
        out[table] = await _rows(world, f"SELECT * FROM {table} WHERE booklet_id = ?"  # noqa: S608
                                 " ORDER BY 1", bid)
    out["booklets"] = await _rows(world, "SELECT * FROM booklets WHERE id = ?", bid)
    return out


async def test_only_the_therapist_closes_and_only_once(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await _join(world, therapist, booklet, "aiti")
    stranger = await world.therapist("toinen")
    path = f"/api/booklets/{booklet}/close"

    status, problem = await world.raw("POST", path, mum.profile.token)
    assert (status, problem["type"]) == (403, "forbidden")
    status, problem = await world.raw("POST", path, stranger.profile.token)
    assert (status, problem["type"]) == (404, "not-found")  # non-members learn nothing
    status, _ = await world.raw("POST", path)
    assert status == 401
    status, lifecycle = await world.raw("GET", f"/api/booklets/{booklet}/lifecycle",
                                        mum.profile.token)
    assert (status, lifecycle["status"], lifecycle["closed_at"]) == (200, "open", None)

    status, closed = await world.raw("POST", path, therapist.profile.token)
    assert status == 200
    assert closed["status"] == "closed"
    assert closed["closed_at"] == "2026-01-01T00:00:00.000+00:00"
    assert closed["purge_after"] == "2027-01-01T00:00:00.000+00:00"  # 365 days by default
    status, problem = await world.raw("POST", path, therapist.profile.token)
    assert (status, problem["type"]) == (409, "booklet-closed")
    status, seen = await world.raw("GET", f"/api/booklets/{booklet}/lifecycle",
                                   mum.profile.token)
    assert (status, seen) == (200, closed)
    audit = await _rows(world, "SELECT actor, action FROM audit_events WHERE target = ?",
                        f"booklet:{booklet}")
    assert (f"account:{therapist.profile.account_id}", "booklet.closed") in audit


async def test_every_write_to_a_closed_booklet_is_refused_and_changes_nothing(
    world: World,
) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await _join(world, therapist, booklet, "aiti")
    await therapist.grant_history(booklet, mum.profile.account_id, {"title"})
    dad = await _join(world, therapist, booklet, "isa")  # not granted anything yet
    await therapist.post(booklet, "note", text="Hyvin meni")
    t = therapist.profile.token
    base = f"/api/booklets/{booklet}"
    status, appointment = await world.raw(
        "POST", f"{base}/appointments", t,
        json={"start": "2025-12-31T10:00:00+02:00", "duration_minutes": 45})  # yesterday
    assert status == 201
    status, _ = await world.raw("POST", f"{base}/close", t)
    assert status == 200
    before = await _snapshot(world, booklet)

    refusals: list[tuple[str, str, str | None, dict[str, Any] | None]] = [
        ("invitation", f"{base}/invitations", t, {"role": "guardian", "name": "mummo"}),
        ("appointment", f"{base}/appointments", t,
         {"start": "2026-01-20T10:00:00+02:00", "duration_minutes": 45}),
        ("cancel", f"{base}/appointments/{appointment['id']}/cancel", t, None),
        ("cancel by guardian", f"{base}/appointments/{appointment['id']}/cancel",
         mum.profile.token, None),
        ("mark", f"{base}/appointments/{appointment['id']}/status", t, {"status": "attended"}),
        ("period", f"{base}/period", t, {"start": "2026-01-01", "end": "2026-06-30",
                                         "sessions_granted": 30, "payer": "kela"}),
        ("notice", f"{base}/notices", t, {"member_id": mum.profile.account_id,
                                          "channel": "sms", "kind": "new_entry_ping"}),
    ]
    for name, path, token, body in refusals:
        async with world.http.post(path, json=body, headers={
                "Authorization": f"Bearer {token}"}) as resp:
            problem = await resp.json(content_type=None)
            assert resp.status == 409, (name, problem)
            assert resp.headers["Content-Type"].startswith(PROBLEM), name
            assert problem["type"] == "booklet-closed", (name, problem)
            assert "read and exported" in problem["title"], name
    status, problem = await world.raw("DELETE", f"{base}/members/{dad.profile.account_id}", t)
    assert (status, problem["type"]) == (409, "booklet-closed")
    # No new roster either (§6.6): nobody seals to a closed booklet; the stored one stands.
    version = (await world.raw("GET", f"{base}/roster", t))[1]["version"]
    assert version >= 1
    status, problem = await world.raw("PUT", f"{base}/roster", t, json={
        "base_version": version, "roster": b64e(b"\x01\x01\x60" + bytes(80))})
    assert (status, problem["type"]) == (409, "booklet-closed")

    # Entries and grants go through the client, which seals and signs them properly.
    writes = (lambda: mum.post(booklet, "note", text="Kiitos"),
              lambda: therapist.post(booklet, "homework", task="Pyöräily", frequency="daily"),
              lambda: therapist.grant_history(booklet, dad.profile.account_id))
    for write in writes:
        with pytest.raises(ClientError) as refused:
            await write()
        assert (refused.value.status, refused.value.code) == (409, "booklet-closed")

    assert await _snapshot(world, booklet) == before
    # Reading (and so exporting) stays allowed.
    entries = await mum.read(booklet)
    assert [e.payload["text"] for e in entries if e.kind == "note"] == ["Hyvin meni"]
    status, page = await world.raw("GET", f"{base}/entries", t)
    assert status == 200
    assert len(page["entries"]) == 2
    # Leaving is still possible: it only gives up one's own access.
    status, _ = await world.raw("DELETE", f"{base}/members/{dad.profile.account_id}",
                                dad.profile.token)
    assert status == 204
    # The therapist's client would sign a roster without dad on its next read: refused, it
    # keeps the stored roster and the read goes on.
    assert [e.kind for e in await therapist.read(booklet)] == ["title", "note"]


async def test_closing_stops_appointments_and_reminders_and_tells_the_family(
    world: World,
) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await _join(world, therapist, booklet, "aiti", MUM_PHONE)
    t = therapist.profile.token
    base = f"/api/booklets/{booklet}"
    soon = {"start": "2026-01-01T14:00:00+02:00", "duration_minutes": 45}  # within 24 h
    later = {"start": "2026-02-03T14:00:00+02:00", "duration_minutes": 45}
    ids = []
    for body in (soon, later):
        status, a = await world.raw("POST", f"{base}/appointments", t, json=body)
        assert status == 201
        ids.append(a["id"])
    status, _ = await world.raw("POST", f"{base}/period", t, json={
        "start": "2025-09-01", "end": "2026-02-20", "sessions_granted": 30, "payer": "kela"})
    assert status == 201
    s = world.http.app[SERVICES]
    await scheduler.run_once(s.appointments, 24 * 3_600_000, 5)  # the reminder for `soon`
    kinds = await _rows(world, "SELECT kind, status FROM notices WHERE booklet_id = ?"
                        " ORDER BY id", bytes.fromhex(booklet))
    assert kinds == [("reminder", "queued"), ("period_ending", "queued")]

    status, _ = await world.raw("POST", f"{base}/close", t)
    assert status == 200
    rows = await _rows(world, "SELECT status, cancelled_via FROM appointments"
                       " WHERE booklet_id = ? ORDER BY start_ms", bytes.fromhex(booklet))
    assert rows == [("cancelled_by_therapist", "close")] * 2
    notices = await _rows(world, "SELECT kind, status, reason, recipient_id FROM notices"
                          " WHERE booklet_id = ? ORDER BY id", bytes.fromhex(booklet))
    # The queued reminder and period notice are skipped; no cancellation SMS; one closing
    # notice to the guardian.
    assert [(k, st, r) for k, st, r, _ in notices] == [
        ("reminder", "skipped", "booklet-closed"), ("period_ending", "skipped", "booklet-closed"),
        ("booklet_closed", "queued", None)]
    assert notices[-1][3] == bytes.fromhex(mum.profile.account_id)
    # The period ended today and the scheduler queues nothing more for it, even when it runs
    # the day its 1-month notice would have been due.
    period = await _rows(world, "SELECT end_date FROM periods WHERE booklet_id = ?",
                         bytes.fromhex(booklet))
    assert period == [("2026-01-01",)]
    assert await scheduler.run_once(s.appointments, 24 * 3_600_000, 5) == 0  # ends today
    world.clock.advance(20 * 86_400)
    assert await scheduler.run_once(s.appointments, 24 * 3_600_000, 5) == 0
    assert len(await _rows(world, "SELECT 1 FROM notices WHERE booklet_id = ?",
                           bytes.fromhex(booklet))) == 3


async def test_an_invitation_link_into_a_closed_booklet_stops_working(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    link = (await therapist.invite(booklet, "guardian", name="aiti"))["link"]
    status, _ = await world.raw("POST", f"/api/booklets/{booklet}/close",
                                therapist.profile.token)
    assert status == 200
    client = world.new_client()
    with pytest.raises(ClientError) as refused:
        await client.enroll(world.base + link[link.index("/enroll/"):], "aiti", PASSWORD)
    assert refused.value.status == 410
    members = await _rows(world, "SELECT COUNT(*) FROM members WHERE booklet_id = ?",
                          bytes.fromhex(booklet))
    assert members == [(1,)]


async def test_members_open_sockets_hear_that_the_booklet_closed(world: World) -> None:
    """A live `booklet` event (ids and the status only) goes to the current members, so an
    open booklet view turns read-only at once; a stranger's socket hears nothing."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await _join(world, therapist, booklet, "aiti")
    stranger = await world.therapist("toinen")
    sockets = []
    for token in (mum.profile.token, stranger.profile.token):
        ws = await world.http.ws_connect("/api/live")
        await ws.send_json({"token": token})
        assert (await ws.receive_json(timeout=5))["type"] == "ready"
        sockets.append(ws)
    status, _ = await world.raw("POST", f"/api/booklets/{booklet}/close",
                                therapist.profile.token)
    assert status == 200
    assert await sockets[0].receive_json(timeout=5) == {
        "type": "booklet", "booklet_id": booklet, "status": "closed"}
    with pytest.raises(TimeoutError):
        await sockets[1].receive_json(timeout=0.5)
    for ws in sockets:
        await ws.close()
