"""POST /api/notices/{id}/retry (issue 16): the booklet's therapist sends a failed, undelivered
or expired notice again as a new queued attempt, once, audited; it leaves the list of problems.
Anything else (another status, an invitation whose link is gone, a second retry, someone else's
notice, a malformed id) is refused with problem+json and queues nothing."""

from __future__ import annotations

import sqlite3

from secure_msg.web.services import SERVICES

from .conftest import World


async def _notice(world: World, booklet: str, status: str, kind: str = "reminder") -> int:
    now = world.clock.now_ms()
    await world.server_sql(
        "INSERT INTO notices (dedupe_key, booklet_id, channel, address_enc, kind, language,"
        " slots, status, reason, not_before_ms, next_attempt_ms, created_at_ms, updated_at_ms)"
        " VALUES (?, ?, 'sms', ?, ?, 'fi', '{\"when\": 1}', ?, 'why', ?, ?, ?, ?)",
        f"test:{booklet}:{status}:{kind}", bytes.fromhex(booklet), b"\0", kind, status, now,
        now, now, now)

    def txn(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT max(id) FROM notices").fetchone()[0])

    return await world.http.app[SERVICES].db.read(txn)


async def _rows(world: World) -> list[tuple[object, ...]]:
    def txn(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
        return conn.execute(
            "SELECT id, dedupe_key, booklet_id, channel, address_enc, kind, language, slots,"
            " status FROM notices ORDER BY id").fetchall()

    return await world.http.app[SERVICES].db.read(txn)


async def test_a_failed_notice_is_queued_again_once_and_audited(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    failed = await _notice(world, booklet, "failed")
    shown = (await therapist.api.call("GET", "/api/notices/problems"))["notices"]
    assert [n["id"] for n in shown] == [failed]

    queued = await therapist.api.call("POST", f"/api/notices/{failed}/retry")
    assert queued["status"] == "queued"
    rows = {r[0]: r for r in await _rows(world)}
    old, new = rows[failed], rows[queued["id"]]
    assert new[1] == f"retry:{failed}"
    assert new[2:8] == old[2:8]  # booklet, channel, sealed address, kind, language, slots
    assert (old[8], new[8]) == ("failed", "queued")
    assert (await therapist.api.call("GET", "/api/notices/problems"))["notices"] == []

    status, problem = await world.raw("POST", f"/api/notices/{failed}/retry",
                                      therapist.profile.token)
    assert (status, problem["type"]) == (409, "notice-not-retryable")
    assert len(await _rows(world)) == len(rows)

    def audit(conn: sqlite3.Connection) -> list[tuple[str, str]]:
        return conn.execute("SELECT actor, detail FROM audit_events WHERE action ="
                            " 'notice.retried' AND target = ?", (f"notice:{failed}",)).fetchall()

    [(actor, detail)] = await world.http.app[SERVICES].db.read(audit)
    assert actor == f"account:{therapist.profile.account_id}"
    assert detail == f'{{"new":{queued["id"]}}}'


async def test_the_answer_says_when_a_retry_waits_out_quiet_hours(world: World) -> None:
    """Asked at 02:00 in Helsinki, a reminder sent again waits for 08:00 (quiet hours), and the
    answer says so, as does the row the outbox reads; a cancellation goes at once."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    now = world.clock.now_ms()  # 2026-01-01T00:00Z, 02:00 in Helsinki
    at_eight = now + 6 * 3_600_000
    reminder = await _notice(world, booklet, "failed")
    cancellation = await _notice(world, booklet, "failed", kind="cancelled_by_therapist")

    later = await therapist.api.call("POST", f"/api/notices/{reminder}/retry")
    at_once = await therapist.api.call("POST", f"/api/notices/{cancellation}/retry")
    assert (later["send_after_ms"], at_once["send_after_ms"]) == (at_eight, now)

    def due(conn: sqlite3.Connection) -> list[tuple[int, int]]:
        return conn.execute("SELECT not_before_ms, next_attempt_ms FROM notices WHERE id IN"
                            " (?, ?) ORDER BY id", (later["id"], at_once["id"])).fetchall()

    assert await world.http.app[SERVICES].db.read(due) == [(at_eight, at_eight), (now, now)]


async def test_undelivered_and_expired_are_sent_again_too(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    for status in ("undelivered", "expired"):
        notice = await _notice(world, booklet, status)
        assert (await therapist.api.call("POST", f"/api/notices/{notice}/retry"))[
            "status"] == "queued"


async def test_other_statuses_and_invitations_are_refused(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    refused = [await _notice(world, booklet, s) for s in
               ("queued", "sent", "delivered", "ambiguous", "reconciled", "skipped")]
    refused.append(await _notice(world, booklet, "failed", kind="invitation"))
    before = await _rows(world)
    for notice in refused:
        status, problem = await world.raw("POST", f"/api/notices/{notice}/retry",
                                          therapist.profile.token)
        assert (status, problem["type"]) == (409, "notice-not-retryable"), notice
    assert await _rows(world) == before


async def test_only_the_booklets_therapist_and_well_formed_ids(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    failed = await _notice(world, booklet, "failed")
    mum = await world.family(therapist, booklet, "mum")
    other = await world.therapist("toinen")
    before = await _rows(world)
    for who in (mum, other):
        status, problem = await world.raw("POST", f"/api/notices/{failed}/retry",
                                          who.profile.token)
        assert (status, problem["type"]) == (404, "not-found")
    for bad in ("abc", "0", "-1", "99999", "1e3", "9" * 19):
        status, problem = await world.raw("POST", f"/api/notices/{bad}/retry",
                                          therapist.profile.token)
        assert (status, problem["type"]) == (404, "not-found"), bad
    status, _ = await world.raw("POST", f"/api/notices/{failed}/retry")
    assert status == 401
    assert await _rows(world) == before
