"""GET /api/notices/problems and `secure-msg client notice problems`: a therapist sees the
notices of their booklets that did not, or may not, reach the family as meant, with the new
states of the outbox (ambiguous, reconciled, duplicate_suspected, expired) beside failed and
undelivered; nothing that went as meant, and nothing of other therapists' booklets."""

from __future__ import annotations

import argparse

from secure_msg.cli_client_appointments import PROBLEM_MEANS, _problems
from secure_msg.model.notices import VISIBLE_PROBLEMS, NoticeStatus

from .conftest import World


async def _put(world: World, booklet: str, status: NoticeStatus, ambiguous: int = 0) -> None:
    """A notice in `status` (its address a placeholder: this list never opens it), `ambiguous`
    of its attempts having ended in doubt."""
    now = world.clock.now_ms()
    await world.server_sql(
        "INSERT INTO notices (dedupe_key, booklet_id, channel, address_enc, kind, language,"
        " slots, status, reason, ambiguous, not_before_ms, next_attempt_ms, created_at_ms,"
        " updated_at_ms) VALUES (?, ?, 'sms', ?, 'reminder', 'fi', '{}', ?, ?, ?, ?, ?, ?, ?)",
        f"test:{booklet}:{status.value}:{ambiguous}", bytes.fromhex(booklet), b"\0",
        status.value, f"why-{status.value}", ambiguous, now, now, now, now)


async def test_the_new_states_are_shown_to_the_therapist_in_words(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    for status in NoticeStatus:
        await _put(world, booklet, status)
    other = await world.therapist("toinen")
    elsewhere = await other.create_booklet("C")
    await _put(world, elsewhere, NoticeStatus.FAILED)

    shown = (await therapist.api.call("GET", "/api/notices/problems"))["notices"]
    assert sorted(n["status"] for n in shown) == sorted(s.value for s in VISIBLE_PROBLEMS)
    assert {n["status"] for n in shown} == {"failed", "undelivered", "ambiguous", "reconciled",
                                            "duplicate_suspected", "expired"}
    assert all(n["booklet_id"] == booklet for n in shown)

    out = await _problems(therapist, argparse.Namespace())
    lines = out["text"].splitlines()
    assert len(lines) == len(VISIBLE_PROBLEMS)
    for status in VISIBLE_PROBLEMS:
        [line] = [x for x in lines if f": {status.value} (why-{status.value}): " in x]
        assert line.endswith(PROBLEM_MEANS[status.value])


async def test_a_notice_sent_again_after_a_doubtful_attempt_stays_in_the_list(
    world: World,
) -> None:
    """While the outbox tries again a notice whose earlier attempt may have reached Twilio, the
    therapist and the admin still see it as in doubt, not gone from the list for those seconds;
    a first attempt in flight is no problem."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    await _put(world, booklet, NoticeStatus.SENDING, ambiguous=2)
    await _put(world, booklet, NoticeStatus.SENDING, ambiguous=0)
    await _put(world, booklet, NoticeStatus.SENT, ambiguous=1)
    shown = (await therapist.api.call("GET", "/api/notices/problems"))["notices"]
    assert [(n["status"], n["reason"]) for n in shown] == [("ambiguous", "why-sending")]
    out = await _problems(therapist, argparse.Namespace())
    assert out["text"].endswith(PROBLEM_MEANS["ambiguous"])


async def test_a_family_member_is_refused(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "mum")
    status, problem = await world.raw("GET", "/api/notices/problems", mum.profile.token)
    assert (status, problem["type"]) == (403, "forbidden")
