"""The channel policy as an API on the real server: clinical or written text never leaves by
SMS, e-mail or WhatsApp (422, audited, nothing reaches Twilio or SMTP); neutral pings may."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from email import message_from_bytes
from typing import Any

import pytest

from secure_msg.client import ClientError

from .conftest import DAD_PHONE, MUM_PHONE, Inbox

pytestmark = pytest.mark.slow


def _audit(p: Any) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "audit", "show", "--config",
         str(p.server.config_path), "--limit", "200", "--json"],
        check=True, capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


async def test_clinical_and_written_text_refused_on_every_plain_channel(
    practice_factory: Any, smtp: tuple[Inbox, int],
) -> None:
    """Every clinical/free-text by sms/email/whatsapp request is 422 clinical-content-refused
    with an audit event, WhatsApp notices are refused while disabled, a whatsapp: address on
    the SMS path is refused, and zero requests reach Twilio or the SMTP server."""
    inbox, port = smtp
    p = await practice_factory(
        f"[email]\nenabled = true\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n")
    path = f"/api/booklets/{p.booklet}/notices"
    member = p.mum.profile.account_id
    cases: list[tuple[dict[str, Any], str]] = []
    for channel in ("sms", "email", "whatsapp"):
        cases.append(({"content": "clinical", "channel": channel}, "clinical-content-refused"))
        cases.append(({"content": "free_text", "channel": channel}, "clinical-content-refused"))
        cases.append(({"channel": channel, "kind": "new_entry_ping",
                       "text": "CANARY-TITLE-Aino-7f3a harjoitteli"}, "clinical-content-refused"))
    cases.append(({"channel": "whatsapp", "kind": "new_entry_ping"}, "channel-disabled"))
    cases.append(({"channel": "sms", "kind": "new_entry_ping", "address": "whatsapp:+358401112222"},
                  "clinical-content-refused"))
    for body, problem in cases:
        with pytest.raises(ClientError) as err:
            await p.call(p.therapist, "POST", path, {"member_id": member, **body})
        assert (err.value.status, err.value.code) == (422, problem), body
    await asyncio.sleep(0.5)
    assert p.twilio.state.attempts == []
    assert inbox.messages == []
    refused = [e for e in _audit(p) if e["action"] == "notice.refused"]
    assert len(refused) == len(cases)
    assert "CANARY" not in json.dumps(refused)

    ok = await p.call(p.therapist, "POST", path,
                      {"member_id": member, "channel": "email", "kind": "new_entry_ping"})
    assert ok["status"] == "queued"
    for _ in range(100):
        if inbox.messages:
            break
        await asyncio.sleep(0.05)
    assert len(inbox.messages) == 1
    mail = message_from_bytes(inbox.messages[0])
    assert mail["To"] == "mum@example.fi"
    assert p.public in mail.get_payload(decode=True).decode()


async def test_a_notice_goes_only_to_the_members_own_address(practice_factory: Any) -> None:
    """An address that is not the member's own (a premium-rate number, someone else's, junk) is
    422 on the address field and never reaches Twilio; the member's own number in national
    spelling is accepted and the SMS goes to the stored number."""
    p = await practice_factory()
    path = f"/api/booklets/{p.booklet}/notices"
    member = p.mum.profile.account_id
    for address in ("+8823901234567", DAD_PHONE, "not a number"):
        with pytest.raises(ClientError) as err:
            await p.call(p.therapist, "POST", path, {"member_id": member, "channel": "sms",
                                                     "kind": "new_entry_ping", "address": address})
        assert (err.value.status, err.value.code) == (422, "validation-failed"), address
    await asyncio.sleep(0.5)
    assert p.twilio.state.attempts == []
    national = "0" + MUM_PHONE.removeprefix("+358")
    ok = await p.call(p.therapist, "POST", path, {"member_id": member, "channel": "sms",
                                                  "kind": "new_entry_ping", "address": national})
    assert ok["status"] == "queued"
    for _ in range(100):
        if p.twilio.state.messages:
            break
        await asyncio.sleep(0.05)
    assert [m.to for m in p.twilio.state.messages.values()] == [MUM_PHONE]
