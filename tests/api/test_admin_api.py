"""The admin's page API (issue 16): invite staff and list them, the practice's notice problems
and the audit chain's state, for admins only; and a booklet's pending invitations for its
therapist only. Each refusal is a problem+json and changes nothing."""

from __future__ import annotations

import sqlite3

from secure_msg.client import Client
from secure_msg.model.notices import NoticeStatus
from secure_msg.model.roles import Role
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World
from .test_notice_problems import _put


async def _admin(world: World) -> Client:
    admin = world.new_client()
    await admin.enroll(await world.staff_link(Role.ADMIN, "Anna Admin"), "anna", PASSWORD)
    return admin


async def _count(world: World, sql: str, *params: object) -> int:
    def txn(conn: sqlite3.Connection) -> int:
        return int(conn.execute(sql, params).fetchone()[0])

    return await world.http.app[SERVICES].db.read(txn)


async def test_admin_invites_a_therapist_who_enrolls_and_is_listed(world: World) -> None:
    admin = await _admin(world)
    issued = await admin.api.call("POST", "/api/admin/invitations", {
        "role": "therapist", "name": "Tiina T", "phone": "040 123 4567"})
    listed = await admin.api.call("GET", "/api/admin/staff")
    assert [(p["role"], p["name"], p["has_phone"], p["has_email"]) for p in listed["pending"]] \
        == [("therapist", "Tiina T", True, False)]
    assert [(s["role"], s["name"]) for s in listed["staff"]] == [("admin", "Anna Admin")]

    tiina = world.new_client()
    await tiina.enroll(world.base + issued["link"][issued["link"].index("/enroll/"):],
                       "tiina", PASSWORD)
    listed = await admin.api.call("GET", "/api/admin/staff")
    assert listed["pending"] == []
    assert sorted((s["role"], s["name"]) for s in listed["staff"]) == [
        ("admin", "Anna Admin"), ("therapist", "Tiina T")]
    # audited with the admin as the actor, never with the name or number
    actor = f"account:{admin.profile.account_id}"
    assert await _count(world, "SELECT count(*) FROM audit_events WHERE action ="
                               " 'invitation.created' AND actor = ?", actor) == 1


async def test_bad_staff_invitations_are_refused_and_store_nothing(world: World) -> None:
    admin = await _admin(world)
    before = await _count(world, "SELECT count(*) FROM invitations")
    for body, field in (({"role": "guardian", "name": "X"}, "role"),
                        ({"role": "therapist"}, "name"),
                        ({"role": "therapist", "name": "X", "phone": "09 123 456"}, "phone"),
                        ({"role": "therapist", "name": "X", "email": "no-at"}, "email")):
        status, problem = await world.raw("POST", "/api/admin/invitations", admin.profile.token,
                                          json=body)
        assert status in (400, 422), (body, status, problem)
        said = [str(e.get("field")) for e in problem.get("errors", [])] + [problem["type"]]
        assert any(field in f for f in said), problem
    assert await _count(world, "SELECT count(*) FROM invitations") == before


async def test_only_admins_reach_the_admin_api(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "mum")
    before = await _count(world, "SELECT count(*) FROM invitations")
    for who in (therapist, mum):
        for method, path in (("GET", "/api/admin/staff"), ("GET", "/api/admin/audit"),
                             ("GET", "/api/admin/notices/problems"),
                             ("POST", "/api/admin/invitations")):
            body = {"role": "admin", "name": "Me"} if method == "POST" else None
            status, problem = await world.raw(method, path, who.profile.token, json=body)
            assert (status, problem["type"]) == (403, "forbidden"), (path, problem)
    status, _ = await world.raw("GET", "/api/admin/staff")
    assert status == 401
    assert await _count(world, "SELECT count(*) FROM invitations") == before


async def test_admin_sees_every_booklets_notice_problems(world: World) -> None:
    admin = await _admin(world)
    one = await (await world.therapist("yksi")).create_booklet("A")
    two = await (await world.therapist("kaksi")).create_booklet("B")
    await _put(world, one, NoticeStatus.FAILED)
    await _put(world, two, NoticeStatus.EXPIRED)
    await _put(world, two, NoticeStatus.SENT)
    await _put(world, two, NoticeStatus.SENDING)  # a first attempt under way
    await _put(world, one, NoticeStatus.SENDING, ambiguous=1)  # tried again, still in doubt
    shown = (await admin.api.call("GET", "/api/admin/notices/problems"))["notices"]
    assert sorted((n["booklet_id"], n["status"]) for n in shown) == sorted(
        [(one, "failed"), (one, "ambiguous"), (two, "expired")])


async def test_audit_status_says_verified_up_to_n_and_finds_a_break(world: World) -> None:
    admin = await _admin(world)
    report = await admin.api.call("GET", "/api/admin/audit")
    events = await _count(world, "SELECT count(*) FROM audit_events")
    assert report == {"ok": True, "checked": events, "first_broken_seq": None, "reason": ""}
    # A forged event appended behind the server's back breaks the chain at its seq.
    await world.server_sql(
        "INSERT INTO audit_events (seq, at_ms, actor, action, target, detail, prev_hash, hash)"
        " VALUES (?, 0, 'operator', 'forged', '', '{}', ?, ?)", events + 1, bytes(32), bytes(32))
    report = await admin.api.call("GET", "/api/admin/audit")
    assert (report["ok"], report["first_broken_seq"]) == (False, events + 1), report


async def test_booklet_pending_invitations_for_its_therapist_only(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    await therapist.invite(booklet, "guardian", name="Äiti")
    await therapist.api.call("POST", f"/api/booklets/{booklet}/invitations", {
        "role": "caregiver", "name": "Päiväkoti", "email": "pk@example.fi",
        "until": "2099-12-31", "scope": "new"})
    rows = (await therapist.api.call("GET", f"/api/booklets/{booklet}/invitations"))[
        "invitations"]
    assert [(r["role"], r["name"], r["has_email"]) for r in rows] == [
        ("caregiver", "Päiväkoti", True), ("guardian", "Äiti", False)]
    assert all("link" not in r for r in rows)

    mum = await world.family(therapist, booklet, "mum")
    status, problem = await world.raw("GET", f"/api/booklets/{booklet}/invitations",
                                      mum.profile.token)
    assert (status, problem["type"]) == (403, "forbidden")
    other = await world.therapist("toinen")
    status, _ = await world.raw("GET", f"/api/booklets/{booklet}/invitations",
                                other.profile.token)
    assert status == 404
    # spent invitations leave the list (mum's) and the rest stay
    rows = (await therapist.api.call("GET", f"/api/booklets/{booklet}/invitations"))[
        "invitations"]
    assert [r["name"] for r in rows] == ["Päiväkoti", "Äiti"]
