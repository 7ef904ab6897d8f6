"""Cancellations by therapist, SMS and phone call, end to end: the real server, the local
Twilio-compatible server, the `twilio` SDK doing the HTTP, signed webhooks."""

from __future__ import annotations

from typing import Any

import pytest

from secure_msg.testing.twilio_webhooks import SignatureMode

from .conftest import (
    DAD_PHONE,
    DAY,
    FROM,
    MUM_PHONE,
    STRANGER_PHONE,
    THERAPIST_PHONE,
)
from .conftest import soon as _soon

pytestmark = pytest.mark.slow


async def test_therapist_cancel_sends_one_sms_per_guardian_marked_delivered(
    practice_factory: Any,
) -> None:
    """Each guardian gets exactly one SMS with date and time; status callbacks mark it
    delivered; the appointment shows cancelled by the therapist."""
    p = await practice_factory()
    a = await p.schedule(_soon())
    cancelled = await p.call(p.therapist, "POST",
                             f"/api/booklets/{p.booklet}/appointments/{a['id']}/cancel")
    assert cancelled["status"] == "cancelled_by_therapist"
    await p.wait_for(lambda: len(p.messages()) >= 2)

    async def all_delivered() -> bool:
        return [n["status"] for n in await p.notices()] == ["delivered", "delivered"]

    await p.wait_for(all_delivered)
    assert sorted(m.to for m in p.messages()) == [MUM_PHONE, DAD_PHONE]
    assert all(m.from_ == FROM and "peruttu" in m.body for m in p.messages())
    assert all(":" in m.body or "klo" in m.body for m in p.messages())
    again = await p.http.post(
        p.server.url(f"/api/booklets/{p.booklet}/appointments/{a['id']}/cancel"),
        headers={"Authorization": f"Bearer {p.therapist.api.token}"})
    assert again.status == 409
    assert len(p.messages()) == 2


async def test_peru_code_cancels_alerts_therapist_and_is_idempotent(practice_factory: Any) -> None:
    """A signed "PERU <code>" cancels that appointment, alerts the therapist and confirms in
    TwiML; the same MessageSid again changes nothing; forged or missing signatures are 403."""
    p = await practice_factory()
    first, second = await p.schedule(_soon()), await p.schedule(_soon() + DAY)
    for mode in (SignatureMode.FORGED, SignatureMode.MISSING):
        reply = await p.sms(f"PERU {second['cancel_code']}", mode=mode)
        assert reply.status == 403
    sid = "SM" + "1" * 32
    reply = await p.sms(f"peru {first['cancel_code']}", sid=sid)
    assert reply.status == 200
    assert "<Message>" in reply.body
    assert "peruttu" in reply.body
    rows = await p.appointments()
    assert rows[first["id"]]["status"] == "cancelled_by_family"
    assert rows[first["id"]]["cancelled_via"] == "sms"
    assert rows[second["id"]]["status"] == "scheduled"
    await p.wait_for(lambda: len(p.messages(THERAPIST_PHONE)) == 1)
    await p.wait_for(lambda: len(p.messages(DAD_PHONE)) == 1)  # the other guardian is told
    assert first["cancel_code"] in p.messages(THERAPIST_PHONE)[0].body
    repeat = await p.sms(f"PERU {first['cancel_code']}", sid=sid)
    assert repeat.body == reply.body
    assert len(await p.notices()) == 2
    assert (await p.appointments())[second["id"]]["status"] == "scheduled"


async def test_twilio_keywords_record_consent_and_never_cancel(practice_factory: Any) -> None:
    """CANCEL and STOP are consent changes: no appointment changes, and later SMS to that
    number are not sent but shown to the therapist as opted out; START opts back in."""
    p = await practice_factory()
    a = await p.schedule(_soon())
    for word in ("CANCEL", "STOP"):
        reply = await p.sms(word)
        assert reply.status == 200
        assert "<Message>" not in reply.body
    assert (await p.appointments())[a["id"]]["status"] == "scheduled"
    await p.call(p.therapist, "POST", f"/api/booklets/{p.booklet}/appointments/{a['id']}/cancel")
    await p.wait_for(lambda: len(p.messages(DAD_PHONE)) == 1)

    async def mum_opted_out() -> bool:
        problems = (await p.call(p.therapist, "GET", "/api/notices/problems"))["notices"]
        return [n["reason"] for n in problems] == ["opted-out"]

    await p.wait_for(mum_opted_out)
    assert p.messages(MUM_PHONE) == []


async def test_unknown_numbers_and_chatty_replies_get_one_neutral_answer(
    practice_factory: Any,
) -> None:
    """A stranger, a wrong code and a chatty reply all get the same neutral TwiML; nothing
    changes."""
    p = await practice_factory()
    a = await p.schedule(_soon())
    replies = {(await p.sms(f"PERU {a['cancel_code']}", frm=STRANGER_PHONE)).body,
               (await p.sms("PERU 000")).body, (await p.sms("kiitos, nähdään!")).body}
    assert len(replies) == 1
    assert "Viestiä ei voitu käsitellä." in replies.pop()
    assert (await p.appointments())[a["id"]]["status"] == "scheduled"


async def test_phone_call_reads_next_appointment_and_key_1_cancels(practice_factory: Any) -> None:
    """Call → the next appointment's time is said in the caller's language → 1 → cancelled."""
    p = await practice_factory()
    a = await p.schedule(_soon())
    url = p.server.url("/webhooks/twilio/voice")
    call = await p.phone(url)
    assert call.status == 200
    assert "<Gather" in call.body
    assert 'language="fi-FI"' in call.body
    assert "painamalla 1" in call.body
    action = call.body.split('action="')[1].split('"')[0].replace("&amp;", "&")
    assert action.startswith(p.public)
    press = await p.phone(action, digits="1")
    assert press.status == 200
    assert "on peruttu" in press.body
    assert (await p.appointments())[a["id"]]["cancelled_via"] == "voice"
    stranger = await p.phone(url, frm=STRANGER_PHONE)
    assert "<Gather" not in stranger.body
    forged = await p.phone(url, mode=SignatureMode.FORGED)
    assert forged.status == 403


async def test_therapist_alert_names_how_the_family_cancelled(practice_factory: Any) -> None:
    """Cancelled by SMS, by phone and in the app: each alert to the therapist names its own
    channel, so a cancel by a spoofed call is not passed off as the family's text message."""
    p = await practice_factory()
    by_sms, by_phone, in_app = [await p.schedule(_soon() + i * DAY) for i in range(3)]
    assert (await p.sms(f"PERU {by_sms['cancel_code']}")).status == 200
    press = await p.phone(p.server.url(f"/webhooks/twilio/voice/gather?a={by_phone['id']}"),
                          digits="1")
    assert "on peruttu" in press.body
    await p.call(p.mum, "POST",
                 f"/api/booklets/{p.booklet}/appointments/{in_app['id']}/cancel")
    await p.wait_for(lambda: len(p.messages(THERAPIST_PHONE)) == 3)
    alerts = {a["cancel_code"]: next(m.body for m in p.messages(THERAPIST_PHONE)
                                     if a["cancel_code"] in m.body)
              for a in (by_sms, by_phone, in_app)}
    assert "peruttiin tekstiviestillä" in alerts[by_sms["cancel_code"]]
    assert "peruttiin puhelimitse" in alerts[by_phone["cancel_code"]]
    assert "peruttiin sovelluksessa" in alerts[in_app["cancel_code"]]
