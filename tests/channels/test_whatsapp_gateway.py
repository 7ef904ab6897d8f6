"""WhatsAppGateway through the real `twilio` SDK to the local Twilio-compatible server: approved
Content templates with the typed slot values only, the SMS gateway's retry policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from secure_msg.channels.sms import Failed, Found, Sent, TwilioSettings, TwilioSmsGateway
from secure_msg.channels.sms_retry import FailureKind
from secure_msg.channels.whatsapp import WhatsAppGateway, content_variables, slot_numbering
from secure_msg.model.notice_templates import Language, NoticeKind, NoticeRenderer, Slot
from secure_msg.testing.twilio_server import RunningTwilioServer

SENDER = "whatsapp:+358451230000"
TO = "whatsapp:+358401234567"
REMINDER_FI = "HX" + "1" * 32
TEMPLATES = {(NoticeKind.REMINDER, Language.FI): REMINDER_FI}


async def add_faults(server: RunningTwilioServer, **fault: Any) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/_dev/faults", json=fault) as response,
    ):
        assert response.status == 200, await response.text()


def reminder_values() -> dict[str, str]:
    when = datetime(2026, 5, 12, 11, 30, tzinfo=UTC)
    return NoticeRenderer.load().slot_values(
        NoticeKind.REMINDER, Language.FI, {"date": when, "time": when, "code": "4821"})


async def test_sends_template_sid_and_only_slot_values(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """One request from the WhatsApp sender with ContentSid and ContentVariables; no body."""
    values = reminder_values()
    async with WhatsAppGateway(settings, SENDER, TEMPLATES) as gateway:
        result = await gateway.send(TO, NoticeKind.REMINDER, Language.FI, values)
    assert isinstance(result, Sent)
    stored = twilio_server.state.messages[result.provider_sid]
    assert (stored.to, stored.from_, stored.content_sid, stored.body) == (
        TO, SENDER, REMINDER_FI, "")
    assert json.loads(stored.content_variables or "") == {
        "1": values["date"], "2": values["time"], "3": "4821"}


async def test_429_is_retried_like_sms(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """The retry policy is the shared one: a 429 is retried and then sent."""
    await add_faults(twilio_server, kind="429", retry_after=0)
    async with WhatsAppGateway(settings, SENDER, TEMPLATES) as gateway:
        result = await gateway.send(TO, NoticeKind.REMINDER, Language.FI, reminder_values())
    assert isinstance(result, Sent)
    assert result.attempts == 2


async def test_no_template_or_plain_number_never_reaches_twilio(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A kind/language without a template, or a non-whatsapp address: refused locally."""
    async with WhatsAppGateway(settings, SENDER, TEMPLATES) as gateway:
        missing = await gateway.send(TO, NoticeKind.REMINDER, Language.SV, reminder_values())
        plain = await gateway.send("+358401234567", NoticeKind.REMINDER, Language.FI,
                                   reminder_values())
    assert missing == Failed(FailureKind.NO_TEMPLATE, attempts=0)
    assert isinstance(plain, Failed)
    assert plain.attempts == 0
    assert twilio_server.state.attempts == []


def test_bad_sender_or_sid_is_refused(settings: TwilioSettings) -> None:
    with pytest.raises(ValueError, match="whatsapp"):
        WhatsAppGateway(settings, "+358451230000", TEMPLATES)
    with pytest.raises(ValueError, match="reminder"):
        WhatsAppGateway(settings, SENDER, {(NoticeKind.REMINDER, Language.FI): "Hei {date}"})


def test_variables_are_numbered_slots_only() -> None:
    """date, time, code, link in that order; anything that is not a slot is refused."""
    assert slot_numbering(NoticeKind.CANCELLED_BY_THERAPIST) == [Slot.DATE, Slot.TIME]
    assert slot_numbering(NoticeKind.INVITATION) == [Slot.LINK]
    assert json.loads(content_variables(NoticeKind.INVITATION, {"link": "https://x/"})) == {
        "1": "https://x/"}
    with pytest.raises(ValueError, match="not a slot"):
        content_variables(NoticeKind.INVITATION, {"link": "https://x/", "text": "Aino"})


def test_family_cancelled_alert_numbers_via_last_in_the_language() -> None:
    """The alert's channel is variable {{4}} after date, time and code (older templates keep
    their numbers), in the recipient's language."""
    when = datetime(2026, 5, 12, 11, 30, tzinfo=UTC)
    kind = NoticeKind.FAMILY_CANCELLED_ALERT
    assert slot_numbering(kind) == [Slot.DATE, Slot.TIME, Slot.CODE, Slot.VIA]
    values = NoticeRenderer.load().slot_values(
        kind, Language.SV, {"date": when, "time": when, "code": "4821", "via": "voice"})
    assert json.loads(content_variables(kind, values)) == {
        "1": "tis 12.5.2026", "2": "14.30", "3": "4821", "4": "per telefon"}


async def test_find_matches_the_whatsapp_sender_whatever_the_text(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """The text of a template message is Twilio's, so a reconcile finds WhatsApp messages by
    recipient and our WhatsApp sender only: an SMS from the practice number to the same
    person's number is not one of them."""
    since = datetime.now(UTC)
    async with WhatsAppGateway(settings, SENDER, TEMPLATES) as gateway:
        sent = [await gateway.send(TO, NoticeKind.REMINDER, Language.FI, reminder_values())
                for _ in range(2)]
        async with TwilioSmsGateway(settings) as sms:
            await sms.send(TO.removeprefix("whatsapp:"), "tekstiviesti")
        found = await gateway.find(TO, None, since)
    assert all(isinstance(r, Sent) for r in sent)
    assert isinstance(found, Found)
    assert sorted(found.sids) == sorted(r.provider_sid for r in sent if isinstance(r, Sent))
