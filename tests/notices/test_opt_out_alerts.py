"""A STOP from a family member's number tells the booklet's therapist, once: anyone can spoof a
parent's number, and STOP would otherwise stop the family's reminders unseen. The real server,
the local Twilio-compatible server and signed webhooks; notices and audit read from the
database file."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from typing import Any

import pytest

from .conftest import (
    DAY,
    HELSINKI,
    MUM_PHONE,
    NANNY_PHONE,
    STRANGER_PHONE,
    THERAPIST_PHONE,
    local_ms,
)

pytestmark = pytest.mark.slow


def _noon() -> int:
    """Today's 12:00 in Helsinki, outside quiet hours whatever the real time of the run."""
    today = datetime.now(HELSINKI).date()
    return local_ms(today.year, today.month, today.day, 12)


def _rows(p: Any, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(p.server.db_path, timeout=10) as conn:
        return list(conn.execute(sql))


def _alerts(p: Any) -> list[str]:
    """The booklet (hex) of every STOP alert queued."""
    return [bytes(r[0]).hex() for r in _rows(
        p, "SELECT booklet_id FROM notices WHERE kind = 'opt_out_alert' ORDER BY id")]


def _alert_audits(p: Any) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in _rows(
        p, "SELECT actor, target FROM audit_events"
           " WHERE action = 'sms.consent.opt_out_alerted' ORDER BY seq")]


async def test_stop_from_a_guardian_alerts_the_therapist_once(practice_factory: Any) -> None:
    """A guardian's STOP sends the therapist one alert with a link to the booklet and not the
    number; repeated opt-out words from the now opted-out number alert no one again, on that
    day or later."""
    p = await practice_factory()
    p.set_now(_noon())
    reply = await p.sms("STOP")
    assert (reply.status, "<Message>" in reply.body) == (200, False)  # Twilio answers STOP
    await p.wait_for(lambda: len(p.messages(THERAPIST_PHONE)) == 1)
    body = p.messages(THERAPIST_PHONE)[0].body
    assert "STOP" in body
    assert f"{p.public}/#/b/{p.booklet}" in body
    assert MUM_PHONE[-7:] not in body
    for word in ("STOP", "stop", "CANCEL", "QUIT"):
        assert (await p.sms(word)).status == 200
    p.set_now(_noon() + DAY)
    assert (await p.sms("STOP")).status == 200
    assert _alerts(p) == [p.booklet]
    assert _alert_audits(p) == [("anonymous", f"booklet:{p.booklet}")]
    assert p.messages(MUM_PHONE) == []


async def test_stop_start_stop_alerts_once_a_day(practice_factory: Any) -> None:
    """STOP, START, STOP on one day is one alert (a spoofer cannot flood the therapist); a
    new opt-out on another day is a new alert. A caregiver's number counts as a member's."""
    p = await practice_factory()
    await p.join("caregiver", "nanny", NANNY_PHONE)
    p.set_now(_noon())
    for word in ("STOP", "START", "STOP", "UNSTOP", "END"):
        assert (await p.sms(word, frm=NANNY_PHONE)).status == 200
    assert len(_alerts(p)) == 1
    # Sent before the clock jumps a day: a day later it would have expired unsent (visibly).
    await p.wait_for(lambda: len(p.messages(THERAPIST_PHONE)) == 1)
    p.set_now(_noon() + DAY)
    await p.sms("START", frm=NANNY_PHONE)
    assert len(_alerts(p)) == 1  # opting back in alerts no one
    await p.sms("STOP", frm=NANNY_PHONE)
    assert len(_alerts(p)) == 2
    assert len(_alert_audits(p)) == 2
    await p.wait_for(lambda: len(p.messages(THERAPIST_PHONE)) == 2)


async def test_stop_from_a_stranger_alerts_no_one(practice_factory: Any) -> None:
    """A STOP from a number of no member is recorded as before and queues no alert."""
    p = await practice_factory()
    p.set_now(_noon())
    assert (await p.sms("STOP", frm=STRANGER_PHONE)).status == 200
    assert (await p.sms("STOP", frm=THERAPIST_PHONE)).status == 200  # not a family member
    assert _alerts(p) == []
    assert _alert_audits(p) == []
    consent = _rows(p, "SELECT detail FROM audit_events WHERE action = 'sms.consent.opt_out'")
    assert len(consent) == 2
    assert all('"known":false' in str(r[0]) for r in consent)
    assert p.messages() == []


async def test_stop_alert_waits_out_quiet_hours(practice_factory: Any) -> None:
    """A STOP at night queues the alert until morning: it is not urgent, and a spoofed STOP
    should not wake the therapist."""
    p = await practice_factory()
    today = datetime.now(HELSINKI).date()
    p.set_now(local_ms(today.year, today.month, today.day, 7))
    await p.sms("STOP")
    await asyncio.sleep(1.5)  # the outbox worker would have sent an alert due now
    assert _alerts(p) == [p.booklet]
    assert _rows(p, "SELECT status FROM notices WHERE kind = 'opt_out_alert'") == [("queued",)]
    assert p.messages(THERAPIST_PHONE) == []
    p.set_now(local_ms(today.year, today.month, today.day, 8) + 1000)
    await p.wait_for(lambda: len(p.messages(THERAPIST_PHONE)) == 1)
