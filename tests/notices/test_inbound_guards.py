"""Who may cancel by SMS or phone, and how often: guardians only, strict Twilio SIDs (no replay by
re-splitting a signed form), and a limit on failed attempts. The real server, the local
Twilio-compatible server and signed webhooks; the limiter itself also with a fixed clock."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from secure_msg.clock import FixedClock
from secure_msg.errors import BadRequest
from secure_msg.services.inbound_service import InboundLimits
from secure_msg.services.rate_limit import MemoryFailures
from secure_msg.testing.twilio_webhooks import (
    inbound_sms_params,
    post_webhook,
    resplit,
    sign,
    voice_params,
)
from secure_msg.web.webhooks_twilio import check_sids

from .conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DAD_PHONE,
    DAY,
    FROM,
    MUM_PHONE,
    NANNY_PHONE,
    STRANGER_PHONE,
    soon,
)


def _audit_actions(p: Any) -> list[str]:
    with sqlite3.connect(p.server.db_path, timeout=10) as conn:
        return [r[0] for r in conn.execute("SELECT action FROM audit_events ORDER BY seq")]


@pytest.mark.slow
async def test_caregiver_cannot_cancel_by_sms_or_phone(practice_factory: Any) -> None:
    """A caregiver's PERU with the right code gets the stranger's answer; their call hears no
    appointment, and a key press cancels nothing: as in the API, only guardians cancel."""
    p = await practice_factory()
    await p.join("caregiver", "nanny", NANNY_PHONE)
    a = await p.schedule(soon())
    stranger = await p.sms(f"PERU {a['cancel_code']}", frm=STRANGER_PHONE)
    nanny = await p.sms(f"PERU {a['cancel_code']}", frm=NANNY_PHONE)
    assert (nanny.status, nanny.body) == (200, stranger.body)
    call = await p.phone(p.server.url("/webhooks/twilio/voice"), frm=NANNY_PHONE)
    assert "<Gather" not in call.body
    press = await p.phone(p.server.url(f"/webhooks/twilio/voice/gather?a={a['id']}"),
                          frm=NANNY_PHONE, digits="1")
    assert press.status == 200
    assert "peruttu" not in press.body
    assert (await p.appointments())[a["id"]]["status"] == "scheduled"
    assert "appointment.cancelled_by_family" not in _audit_actions(p)


@pytest.mark.slow
async def test_resplit_signed_peru_is_refused_and_cancels_nothing(practice_factory: Any) -> None:
    """A captured signed "PERU" whose NumMedia is folded into MessageSid keeps its signature but
    is a new sid: it is refused (400), and the appointment booked since stays booked."""
    p = await practice_factory()
    first = await p.schedule(soon())
    url = p.server.url("/webhooks/twilio/sms")
    captured = inbound_sms_params(account_sid=ACCOUNT_SID, from_=MUM_PHONE, to=FROM, body="PERU")
    reply = await post_webhook(url, captured, auth_token=AUTH_TOKEN, session=p.http)
    assert "peruttu" in reply.body
    second = await p.schedule(soon() + DAY)
    replay = resplit(captured, "NumMedia")
    assert replay["MessageSid"].endswith("NumMedia0")
    assert sign(AUTH_TOKEN, url, replay) == sign(AUTH_TOKEN, url, captured)
    refused = await post_webhook(url, replay, auth_token=AUTH_TOKEN, signed_params=captured,
                                 session=p.http)
    assert refused.status == 400
    assert refused.content_type == "application/problem+json"
    rows = await p.appointments()
    assert rows[first["id"]]["status"] == "cancelled_by_family"
    assert rows[second["id"]]["status"] == "scheduled"


@pytest.mark.slow
async def test_failed_cancels_are_limited_per_sender(practice_factory: Any) -> None:
    """Five wrong codes from one number: then even the right code, or the phone menu, gets the
    neutral answer and cancels nothing, and the refusal is audited. Another guardian's number
    with no failures of its own is still refused for that appointment (per-appointment limit)."""
    p = await practice_factory()
    a = await p.schedule(soon())
    neutral = (await p.sms("PERU 0000")).body
    for _ in range(4):
        assert (await p.sms("PERU 0001")).body == neutral
    assert (await p.sms(f"PERU {a['cancel_code']}")).body == neutral
    call = await p.phone(p.server.url("/webhooks/twilio/voice"))
    assert "<Gather" not in call.body
    press = await p.phone(p.server.url(f"/webhooks/twilio/voice/gather?a={a['id']}"),
                          digits="1")
    assert "peruttu" not in press.body
    assert (await p.sms(f"PERU {a['cancel_code']}", frm=DAD_PHONE)).body == neutral
    assert (await p.appointments())[a["id"]]["status"] == "scheduled"
    assert _audit_actions(p).count("appointment.cancel_refused") == 3
    assert p.messages() == []  # no alert, no confirmation


def test_cancel_limits_per_sender_and_per_appointment_over_a_window() -> None:
    clock = FixedClock()
    limits = InboundLimits(MemoryFailures(clock), max_failures=2, window_seconds=100)
    limits.fail(None, "+358401", [b"a1"])
    assert not limits.blocked(None, "+358401")
    limits.fail(None, "+358401", [b"a1", b"a2"])
    assert limits.blocked(None, "+358401")
    assert limits.blocked(None, "+358402", [b"a1"])  # the appointment is blocked for everyone
    assert not limits.blocked(None, "+358402", [b"a2"])  # a2 has failed once only
    clock.advance(99)
    assert limits.blocked(None, "+358401")
    clock.advance(1)
    assert not limits.blocked(None, "+358401", [b"a1", b"a2"])


def test_neutral_replies_are_limited_per_number_and_for_strangers_together() -> None:
    """Ten neutral replies a day to a guardian's number, one to a stranger's, and sixty an hour
    to all strangers together: past that the practice stays silent."""
    clock = FixedClock()
    limits = InboundLimits(MemoryFailures(clock))
    replies = [limits.may_reply(None, "+358401", guardian=True) for _ in range(11)]
    assert replies == [True] * 10 + [False]
    assert limits.may_reply(None, "+8823901", guardian=False)
    assert not limits.may_reply(None, "+8823901", guardian=False)
    assert all(limits.may_reply(None, f"+88239{n:04}", guardian=False) for n in range(59))
    assert not limits.may_reply(None, "+882399999", guardian=False)  # the hour's 61st stranger
    clock.advance(3600)
    assert limits.may_reply(None, "+882399999", guardian=False)
    assert not limits.may_reply(None, "+8823901", guardian=False)  # its day is not over
    clock.advance(DAY - 3600)
    assert limits.may_reply(None, "+8823901", guardian=False)
    assert limits.may_reply(None, "+358401", guardian=True)


@pytest.mark.slow
async def test_a_stranger_gets_one_neutral_reply_a_day(practice_factory: Any) -> None:
    """Texts from an unknown number get the neutral reply once, then an empty answer (nothing
    sent), while another stranger and a guardian still get theirs."""
    p = await practice_factory()
    first = await p.sms("hei?", frm=STRANGER_PHONE)
    assert "<Message>" in first.body
    for text in ("hei??", "PERU 1234"):
        again = await p.sms(text, frm=STRANGER_PHONE)
        assert (again.status, "<Message>" in again.body) == (200, False)
    other = await p.sms("hei?", frm="+358409999998")
    assert other.body == first.body
    assert "<Message>" in (await p.sms("kiitos!", frm=MUM_PHONE)).body


SMS = inbound_sms_params(account_sid=ACCOUNT_SID, from_=MUM_PHONE, to=FROM, body="PERU",
                         message_sid="SM" + "0123456789abcdef" * 2)
CALL = voice_params(account_sid=ACCOUNT_SID, from_=MUM_PHONE, to=FROM, digits="1")


@pytest.mark.parametrize(("form", "required"), [
    (resplit(SMS, "NumMedia"), ("MessageSid",)),  # the re-split replay
    (resplit(CALL, "CallStatus"), ("CallSid",)),  # the same against the call's dedupe
    ({**SMS, "MessageSid": "SM" + "0123456789ABCDEF" * 2}, ("MessageSid",)),  # upper-case hex
    ({**SMS, "SmsSid": "SM" + "f" * 32}, ("MessageSid",)),  # the message SIDs disagree
    ({**SMS, "AccountSid": "AC" + "c" * 32}, ("MessageSid",)),  # another account
    ({k: v for k, v in SMS.items() if k != "AccountSid"}, ("MessageSid",)),
    ({k: v for k, v in CALL.items() if k != "CallSid"}, ("CallSid",)),
])
def test_check_sids_refuses_malformed_or_foreign_sids(
    form: dict[str, str], required: tuple[str, ...],
) -> None:
    with pytest.raises(BadRequest) as raised:
        check_sids(form, ACCOUNT_SID, required)
    assert raised.value.status == 400


def test_check_sids_accepts_twilio_shapes() -> None:
    check_sids(SMS, ACCOUNT_SID, ("MessageSid",))
    mms = "MM" + "a" * 32
    check_sids({**SMS, "MessageSid": mms, "SmsSid": mms, "SmsMessageSid": mms}, ACCOUNT_SID,
               ("MessageSid",))
    check_sids(CALL, ACCOUNT_SID, ("CallSid",))
