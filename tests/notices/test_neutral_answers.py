"""Everyone the service tells nothing gets the same answer, byte for byte, in Finnish, Swedish and
English, and PERU by WhatsApp cancels as by SMS (issue 15). The real server, the local
Twilio-compatible server and signed webhooks."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest

from secure_msg.channels.segments import Encoding, analyze
from secure_msg.testing.twilio_webhooks import WebhookReply, send_inbound_sms

from .conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DAD_PHONE,
    DAY,
    FROM,
    MUM_PHONE,
    NANNY_PHONE,
    STRANGER_PHONE,
    THERAPIST_PHONE,
    soon,
)

pytestmark = pytest.mark.slow

GRANNY_PHONE = "+358401115555"  # a guardian who reads Swedish
WHATSAPP = "whatsapp:"


def _root(reply: WebhookReply) -> ElementTree.Element:
    assert (reply.status, reply.content_type) == (200, "application/xml"), reply
    return ElementTree.fromstring(reply.body)  # noqa: S314 - the server's TwiML


def _message(reply: WebhookReply) -> str:
    messages = [m.text or "" for m in _root(reply).iter("Message")]
    assert len(messages) == 1, reply.body
    return messages[0]


async def test_everyone_without_a_menu_hears_the_same_call_answer(practice_factory: Any) -> None:
    """A stranger, a Swedish-speaking guardian with no appointment ahead, a guardian, a
    caregiver, a key press from a stranger and, once blocked, that Swedish guardian: one TwiML,
    said in fi, sv and en, each in a voice, and nothing cancelled."""
    p = await practice_factory()
    await p.join("guardian", "mormor", GRANNY_PHONE, language="sv")
    await p.join("caregiver", "nanny", NANNY_PHONE)
    url = p.server.url("/webhooks/twilio/voice")
    stranger = await p.phone(url, frm=STRANGER_PHONE)
    answers = [(await p.phone(url, frm=frm)).body for frm in (GRANNY_PHONE, MUM_PHONE, NANNY_PHONE)]
    a = await p.schedule(soon())
    for _ in range(5):  # five wrong codes: the number, and the appointment, are blocked
        await p.sms("PERU 0000", frm=GRANNY_PHONE)
    answers.append((await p.phone(url, frm=GRANNY_PHONE)).body)
    gather = p.server.url(f"/webhooks/twilio/voice/gather?a={a['id']}")
    answers += [(await p.phone(gather, frm=frm, digits="1")).body
                for frm in (STRANGER_PHONE, GRANNY_PHONE)]
    assert answers == [stranger.body] * 6
    says = [(s.attrib["language"], s.attrib.get("voice")) for s in _root(stranger).iter("Say")]
    assert [language for language, _ in says] == ["fi-FI", "sv-SE", "en-GB"]
    assert all(voice for _, voice in says), says
    assert [el.tag for el in _root(stranger)] == ["Say", "Say", "Say", "Hangup"]
    assert (await p.appointments())[a["id"]]["status"] == "scheduled"


async def test_the_neutral_sms_is_one_text_in_three_languages_for_everyone(
    practice_factory: Any,
) -> None:
    """A stranger, a Swedish-speaking guardian's wrong code, a caregiver's right code and a
    guardian's chat get the same reply: fi, sv and en, one GSM-7 segment; nothing cancelled."""
    p = await practice_factory()
    await p.join("guardian", "mormor", GRANNY_PHONE, language="sv")
    await p.join("caregiver", "nanny", NANNY_PHONE)
    a = await p.schedule(soon())
    replies = [await p.sms("hej?", frm=STRANGER_PHONE), await p.sms("PERU 0000", frm=GRANNY_PHONE),
               await p.sms(f"PERU {a['cancel_code']}", frm=NANNY_PHONE),
               await p.sms("kiitos!", frm=MUM_PHONE)]
    assert [r.body for r in replies] == [replies[0].body] * 4
    text = _message(replies[0])
    assert text.split("\n") == ["Viestiä ei voitu käsitellä.", "Meddelandet kunde inte behandlas.",
                                "The message could not be processed."]
    info = analyze(text)
    assert (info.encoding, info.segments) == (Encoding.GSM7, 1)
    assert (await p.appointments())[a["id"]]["status"] == "scheduled"


async def test_peru_by_whatsapp_cancels_within_the_same_limit(practice_factory: Any) -> None:
    """PERU <code> from whatsapp:<a guardian's number> cancels that appointment, confirms in the
    reply (answered on WhatsApp), tells the therapist it came by WhatsApp and the other guardian;
    wrong codes by WhatsApp and by SMS count against one limit for the number."""
    p = await practice_factory()
    first, second = await p.schedule(soon()), await p.schedule(soon() + DAY)

    async def whatsapp(body: str) -> WebhookReply:
        return await send_inbound_sms(
            p.server.url("/webhooks/twilio/sms"), auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
            from_=WHATSAPP + MUM_PHONE, to=WHATSAPP + FROM, body=body, session=p.http)

    neutral = (await p.sms("PERU 0001")).body
    assert (await whatsapp("PERU 0000")).body == neutral
    confirmed = _message(await whatsapp(f"PERU {first['cancel_code']}"))
    assert "Perumisesi on vastaanotettu" in confirmed
    rows = await p.appointments()
    assert (rows[first["id"]]["status"], rows[first["id"]]["cancelled_via"]) == (
        "cancelled_by_family", "whatsapp")
    assert rows[second["id"]]["status"] == "scheduled"
    await p.wait_for(lambda: len(p.messages(THERAPIST_PHONE)) == 1)
    assert "peruttiin WhatsAppilla" in p.messages(THERAPIST_PHONE)[0].body
    await p.wait_for(lambda: len(p.messages(DAD_PHONE)) == 1)
    for _ in range(3):  # with the two above, five failures from this number
        assert (await p.sms("PERU 0002")).body == neutral
    assert (await whatsapp(f"PERU {second['cancel_code']}")).body == neutral
    assert (await p.appointments())[second["id"]]["status"] == "scheduled"
