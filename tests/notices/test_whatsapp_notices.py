"""WhatsApp notices on the real server, through the real `twilio` SDK to the local Twilio server:
only approved Content templates with the typed slot values (DESIGN §5)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from secure_msg.client import ClientError
from secure_msg.model.notice_templates import Language, format_date, format_time

from .conftest import CANARIES, HELSINKI, MUM_PHONE, scan_outbound

pytestmark = pytest.mark.slow

SENDER = "whatsapp:+358451230000"
REMINDER = {lang: "HX" + f"{i}" * 32 for i, lang in enumerate(("fi", "sv", "en"), 1)}
CANCELLED = {lang: "HX" + f"{i}" * 32 for i, lang in enumerate(("fi", "sv", "en"), 4)}
ENABLED = (f"[whatsapp]\nenabled = true\nsender = \"{SENDER}\"\n[whatsapp.templates]\n"
           + "".join(f"reminder.{k} = \"{v}\"\n" for k, v in REMINDER.items())
           + "".join(f"cancelled_by_therapist.{k} = \"{v}\"\n" for k, v in CANCELLED.items()))


def _in_ten_days() -> int:
    day = datetime.now(HELSINKI) + timedelta(days=10)
    return int(day.replace(hour=14, minute=30, second=0, microsecond=0).timestamp() * 1000)


async def test_reminder_and_cancellation_go_once_as_templates_with_slot_values_only(
    practice_factory: Any,
) -> None:
    """Enabled with templates: each notice to the member's number is one WhatsApp message from
    the configured sender, with the kind's ContentSid and only date/time/code as variables; no
    body, no canary, no child name; the status callback marks it delivered."""
    p = await practice_factory(ENABLED)
    start_ms = _in_ten_days()
    a = await p.schedule(start_ms)
    path = f"/api/booklets/{p.booklet}/notices"
    member = p.mum.profile.account_id
    to = f"whatsapp:{MUM_PHONE}"
    for kind in ("reminder", "cancelled_by_therapist"):
        ok = await p.call(p.therapist, "POST", path, {
            "member_id": member, "channel": "whatsapp", "kind": kind, "appointment_id": a["id"]})
        assert ok["status"] == "queued"
    await p.wait_for(lambda: len(p.messages(to)) >= 2)
    await asyncio.sleep(0.5)  # nothing more arrives
    sent = p.messages(to)
    assert len(sent) == 2
    assert all(m.from_ == SENDER and m.body == "" for m in sent)
    when = datetime.fromtimestamp(start_ms / 1000, tz=HELSINKI)
    date, time_ = format_date(when, Language.FI), format_time(when, Language.FI)
    by_sid = {m.content_sid: json.loads(m.content_variables) for m in sent}
    assert by_sid == {REMINDER["fi"]: {"1": date, "2": time_, "3": a["cancel_code"]},
                      CANCELLED["fi"]: {"1": date, "2": time_}}
    captured = [m.content_variables for m in sent] + [m.body for m in sent]
    assert scan_outbound(captured) == []
    assert not any(c in json.dumps(by_sid) for c in CANARIES)
    assert p.messages(MUM_PHONE) == []  # nothing went by SMS instead

    async def delivered() -> bool:
        rows = [n for n in await p.notices() if n["channel"] == "whatsapp"]
        return len(rows) == 2 and all(n["status"] == "delivered" for n in rows)

    await p.wait_for(delivered)


async def test_whatsapp_refusals_when_enabled(practice_factory: Any) -> None:
    """Free or clinical text is still clinical-content-refused; a kind without a template is
    422 whatsapp-template-missing; nothing is queued and nothing reaches Twilio."""
    p = await practice_factory(ENABLED)
    path = f"/api/booklets/{p.booklet}/notices"
    member = p.mum.profile.account_id
    cases = [
        ({"content": "clinical", "kind": "new_entry_ping"}, "clinical-content-refused"),
        ({"content": "free_text", "kind": "new_entry_ping"}, "clinical-content-refused"),
        ({"kind": "new_entry_ping", "text": f"{CANARIES[0]} harjoitteli"},
         "clinical-content-refused"),
        ({"kind": "new_entry_ping"}, "whatsapp-template-missing"),
        ({"kind": "invitation"}, "whatsapp-template-missing"),
    ]
    for body, problem in cases:
        with pytest.raises(ClientError) as err:
            await p.call(p.therapist, "POST", path,
                         {"member_id": member, "channel": "whatsapp", **body})
        assert (err.value.status, err.value.code) == (422, problem), body
    await asyncio.sleep(0.5)
    assert p.twilio.state.attempts == []
    assert [n for n in await p.notices() if n["channel"] == "whatsapp"] == []


async def test_whatsapp_still_refused_while_disabled(practice_factory: Any) -> None:
    """Templates configured but WhatsApp off: channel-disabled, nothing reaches Twilio."""
    p = await practice_factory(ENABLED.replace("enabled = true", "enabled = false"))
    a = await p.schedule(_in_ten_days())
    with pytest.raises(ClientError) as err:
        await p.call(p.therapist, "POST", f"/api/booklets/{p.booklet}/notices", {
            "member_id": p.mum.profile.account_id, "channel": "whatsapp", "kind": "reminder",
            "appointment_id": a["id"]})
    assert (err.value.status, err.value.code) == (422, "channel-disabled")
    await asyncio.sleep(0.3)
    assert p.twilio.state.attempts == []
