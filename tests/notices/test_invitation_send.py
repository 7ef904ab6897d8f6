"""Invitation links sent to the invitee through the outbox, end to end: the real server, the
local Twilio-compatible server (the `twilio` SDK doing the HTTP) and aiosmtpd for e-mail.

The link carries a one-time token, so besides delivery these tests read the database files
(main, -wal, -shm) as raw bytes: the token must never be there in any form."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import Client, ClientError, Profile

from .conftest import HELSINKI, PASSWORD, Inbox, admin_invite, local_ms

pytestmark = pytest.mark.slow
INVITEE_PHONE = "+358401114444"
LINK = re.compile(r"https?://\S+/enroll/[A-Za-z0-9_-]{43}")


def _quiet_morning() -> tuple[int, int]:
    """Today's 07:00 (quiet hours) and 08:00:01 in Helsinki: both within the therapist's
    session lifetime, whatever the real time of the test run."""
    today = datetime.now(HELSINKI).date()
    return (local_ms(today.year, today.month, today.day, 7),
            local_ms(today.year, today.month, today.day, 8) + 1000)


def _token_forms(link: str) -> list[bytes]:
    token = link.rsplit("/", 1)[1]
    raw = base64.urlsafe_b64decode(token + "=")
    return [token.encode(), link.encode(), link.split("://", 1)[1].encode(), raw,
            raw.hex().encode(), base64.b64encode(raw).rstrip(b"=")]


def _leaks(p: Any, link: str) -> list[tuple[str, bytes]]:
    files = [f for f in p.server.db_files() if f.exists()]
    assert files, "no database files found"
    return [(f.name, form) for f in files for form in _token_forms(link)
            if form in f.read_bytes()]


def _invitation_slots(p: Any) -> list[str]:
    with sqlite3.connect(p.server.db_path, timeout=10) as conn:
        rows = conn.execute("SELECT slots FROM notices WHERE kind = 'invitation'").fetchall()
    return [str(r[0]) for r in rows]


async def _enroll_from(p: Any, text: str) -> Client:
    found = LINK.findall(text)
    assert len(found) == 1, text
    client = Client(Profile(), p.http)
    await client.enroll(found[0], "grandma-login", PASSWORD)
    return client


async def _wait_notices(p: Any, statuses: list[str]) -> None:
    async def reached() -> bool:
        rows = [n for n in await p.notices() if n["kind"] == "invitation"]
        return [n["status"] for n in rows] == statuses

    await p.wait_for(reached)


async def test_sms_invitation_waits_out_quiet_hours_enrolls_and_leaves_no_token(
    practice_factory: Any,
) -> None:
    """Invited with send=["sms"] during quiet hours, the link waits sealed in the outbox (no
    token in the database files), then goes as exactly one canary-free SMS whose link enrolls
    the invitee; once delivered the outbox holds only a redacted marker and the database files
    (main, -wal, -shm) contain the token in no form."""
    p = await practice_factory()
    quiet, morning = _quiet_morning()
    p.set_now(quiet)
    invite = await p.therapist.invite(p.booklet, "caregiver", name="Mummo",
                                      phone="040 111 4444", send=["sms"], until="2099-12-31",
                                      scope="new")
    assert invite["queued"] == ["sms"]
    # A caregiver's link is plain (protocol §6.7: the guardians' consent decides what she
    # reads); the server's text carries the link as it is.
    link = invite["link"]
    assert "#" not in link
    await _wait_notices(p, ["queued"])
    await asyncio.sleep(0.5)
    assert p.messages(INVITEE_PHONE) == []  # quiet hours
    assert _leaks(p, link) == []
    assert all("sealed:v1:" in s for s in _invitation_slots(p))

    p.set_now(morning)
    await p.wait_for(lambda: len(p.messages(INVITEE_PHONE)) == 1)
    await _wait_notices(p, ["delivered"])
    (sms,) = p.messages(INVITEE_PHONE)
    assert link.rsplit("/", 1)[1] in sms.body
    assert "Mummo" not in sms.body
    grandma = await _enroll_from(p, sms.body)
    for guardian in (p.mum, p.dad):  # a caregiver is a member once both approve
        await guardian.consent(p.booklet, grandma.profile.account_id, "approve")
    members = await p.therapist.members(p.booklet)
    assert grandma.profile.account_id in {m.account_id for m in members}
    assert _invitation_slots(p) == ['{"link": "[redacted]"}']
    assert _leaks(p, link) == []
    assert len(p.messages(INVITEE_PHONE)) == 1


async def test_email_invitation_delivered_enrolls_and_leaves_no_token(
    practice_factory: Any, smtp: tuple[Inbox, int],
) -> None:
    """send=["email"] delivers exactly one e-mail (through aiosmtpd) whose link enrolls the
    invitee, no SMS goes, and afterwards the database files hold no form of the token."""
    inbox, port = smtp
    p = await practice_factory(
        f"[email]\nenabled = true\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n")
    _, morning = _quiet_morning()
    p.set_now(morning)
    before = len(p.messages())
    invite = await p.therapist.invite(p.booklet, "guardian", email="Granny@Example.fi",
                                      send=["email"], language="en")
    assert invite["queued"] == ["email"]
    await p.wait_for(lambda: len(inbox.messages) == 1)
    await _wait_notices(p, ["sent"])
    mail = message_from_bytes(inbox.messages[0])
    assert mail["To"] == "granny@example.fi"
    body = mail.get_payload(decode=True).decode()
    assert "invited" in body
    await _enroll_from(p, body)
    assert _invitation_slots(p) == ['{"link": "[redacted]"}']
    assert _leaks(p, invite["link"]) == []
    assert len(p.messages()) == before
    assert len(inbox.messages) == 1


async def test_send_sms_without_phone_or_to_whatsapp_creates_nothing(
    practice_factory: Any,
) -> None:
    """send=["sms"] without a phone is 422 validation-failed and a whatsapp: number is 422
    clinical-content-refused; neither creates an invitation or a notice, nothing reaches
    Twilio; an unknown channel in send is 422 too."""
    p = await practice_factory()
    path = f"/api/booklets/{p.booklet}/invitations"
    cases = [({"role": "guardian", "email": "x@example.fi", "send": ["sms"]},
              "validation-failed"),
             ({"role": "guardian", "phone": "whatsapp:+358401114444", "send": ["sms"]},
              "clinical-content-refused"),
             ({"role": "guardian", "phone": "+358401114444", "send": ["whatsapp"]},
              "validation-failed")]
    with sqlite3.connect(p.server.db_path, timeout=10) as conn:
        invitations = conn.execute("SELECT COUNT(*) FROM invitations").fetchone()[0]
    notices = len(await p.notices())
    sent = len(p.twilio.state.attempts)
    for body, problem in cases:
        with pytest.raises(ClientError) as err:
            await p.call(p.therapist, "POST", path, body)
        assert (err.value.status, err.value.code) == (422, problem), body
    with sqlite3.connect(p.server.db_path, timeout=10) as conn:
        assert conn.execute("SELECT COUNT(*) FROM invitations").fetchone()[0] == invitations
        assert conn.execute("SELECT COUNT(*) FROM notices WHERE kind = 'invitation'"
                            ).fetchone()[0] == 0
    assert len(await p.notices()) == notices
    await asyncio.sleep(0.3)
    assert len(p.twilio.state.attempts) == sent


async def test_cli_invite_send_sms_texts_the_link(practice_factory: Any, tmp_path: Path) -> None:
    """`secure-msg client booklet invite … --send sms` queues the link: the invitee gets one SMS
    with it, and the CLI says so; `--send sms` without --phone fails with validation-failed."""
    p = await practice_factory()
    _, morning = _quiet_morning()
    p.set_now(morning)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "secure_msg", "client", "--profile", str(tmp_path / "prof"),
             "--password-file", str(password_file), "--json", *args],
            capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if k != "SECURE_MSG_PASSWORD"})

    def run() -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        assert cli("enroll", admin_invite(p.server, "+358401119999"), "--login",
                   "cli-tiina").returncode == 0
        booklet = json.loads(cli("booklet", "create", "--title", "B").stdout)["id"]
        return (cli("booklet", "invite", booklet, "--role", "guardian", "--phone",
                    INVITEE_PHONE, "--send", "sms", "--language", "sv"),
                cli("booklet", "invite", booklet, "--role", "guardian", "--send", "sms"))

    ok, refused = await asyncio.to_thread(run)
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout.strip().splitlines()[-1])
    assert result["queued"] == ["sms"]
    await p.wait_for(lambda: len(p.messages(INVITEE_PHONE)) == 1)
    plain, fragment = result["link"].split("#")  # the fragment never reaches the server
    assert plain.rsplit("/", 1)[1] in p.messages(INVITEE_PHONE)[0].body
    assert fragment not in p.messages(INVITEE_PHONE)[0].body
    assert refused.returncode != 0
    assert json.loads(refused.stdout.strip().splitlines()[-1])["error"] == "validation-failed"
