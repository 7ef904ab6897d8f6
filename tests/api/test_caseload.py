"""GET /api/me/caseload: the therapist's desk in one request. Every booklet she is the therapist
of, with the next session, the period's counts and flags (a family's cancellation, a notice that
did not reach the family), and the week's sessions across the caseload; titles stay ciphertext;
nothing of another therapist's booklets; family members are refused."""

from __future__ import annotations

from .conftest import World

WEEK = ("2025-12-31T22:00:00.000+00:00", "2026-01-07T22:00:00.000+00:00")


async def _schedule(therapist, booklet: str, start: str) -> dict:
    return await therapist.api.call("POST", f"/api/booklets/{booklet}/appointments",
                                    {"start": start, "duration_minutes": 45})


async def test_the_caseload_lists_sessions_periods_and_flags(world: World) -> None:
    # The clock: 2026-01-01 02:00 in Helsinki, so the week is 1.1. 00:00 to 8.1. 00:00 there.
    therapist = await world.therapist()
    a = await therapist.create_booklet("Aino")
    b = await therapist.create_booklet("Bertta")
    today = await _schedule(therapist, a, "2026-01-01T10:00:00+02:00")
    later = await _schedule(therapist, a, "2026-01-10T10:00:00+02:00")
    friday = await _schedule(therapist, b, "2026-01-02T09:00:00+02:00")
    await therapist.api.call("POST", f"/api/booklets/{a}/period", {
        "start": "2025-12-01", "end": "2026-05-31", "sessions_granted": 40, "payer": "kela"})
    mum = await world.family(therapist, a, "mum")
    await mum.api.call("POST", f"/api/booklets/{a}/appointments/{today['id']}/cancel")
    now = world.clock.now_ms()
    await world.server_sql(
        "INSERT INTO notices (dedupe_key, booklet_id, channel, address_enc, kind, language,"
        " slots, status, reason, not_before_ms, next_attempt_ms, created_at_ms, updated_at_ms)"
        " VALUES ('t:1', ?, 'sms', ?, 'reminder', 'fi', '{}', 'failed', 'x', ?, ?, ?, ?)",
        bytes.fromhex(b), b"\0", now, now, now, now)
    other = await world.therapist("toinen")
    await _schedule(other, await other.create_booklet("C"), "2026-01-01T12:00:00+02:00")

    load = await therapist.api.call("GET", "/api/me/caseload")

    rows = {r["id"]: r for r in load["booklets"]}
    assert sorted(rows) == sorted([a, b])
    mine = (await therapist.api.call("GET", "/api/booklets"))["booklets"]
    for listed in mine:  # the same row as the booklet list, titles still encrypted
        assert {k: rows[listed["id"]][k] for k in listed} == listed
        assert b"Aino" not in rows[listed["id"]]["title_envelope"].encode()
    assert rows[a]["next_session"]["id"] == later["id"]  # the cancelled one is not next
    assert rows[b]["next_session"]["id"] == friday["id"]
    assert (rows[a]["period"]["used"], rows[a]["period"]["sessions_granted"]) == (0, 40)
    assert rows[b]["period"] is None
    assert (rows[a]["family_cancellations"], rows[a]["notice_problems"]) == (1, 0)
    assert (rows[b]["family_cancellations"], rows[b]["notice_problems"]) == (0, 1)
    assert [(s["id"], s["status"]) for s in load["sessions"]] == [
        (today["id"], "cancelled_by_family"), (friday["id"], "scheduled")]
    assert (load["week_from"], load["week_to"]) == WEEK


async def test_an_empty_caseload(world: World) -> None:
    therapist = await world.therapist()
    assert await therapist.api.call("GET", "/api/me/caseload") == {
        "booklets": [], "sessions": [], "week_from": WEEK[0], "week_to": WEEK[1]}


async def test_family_members_and_strangers_are_refused(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "mum")
    status, problem = await world.raw("GET", "/api/me/caseload", mum.profile.token)
    assert (status, problem["type"]) == (403, "forbidden")
    status, problem = await world.raw("GET", "/api/me/caseload")
    assert (status, problem["type"]) == (401, "unauthorized")
