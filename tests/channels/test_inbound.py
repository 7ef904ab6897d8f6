"""Inbound SMS parsing, TwiML rendering and webhook signature checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from xml.etree import ElementTree

import pytest
from aiohttp import web

from secure_msg.channels.inbound import (
    is_valid_twilio_signature,
    public_webhook_url,
    twiml_gather,
    twiml_message,
    twiml_no_reply,
    twiml_say,
    twiml_say_in_turn,
)
from secure_msg.model.inbound import InboundIntent, IntentKind, parse_inbound_sms
from secure_msg.model.notice_templates import Language
from secure_msg.testing.twilio_webhooks import (
    SignatureMode,
    inbound_sms_params,
    post_webhook,
    send_forged_inbound_sms,
    send_inbound_sms,
    sign,
)

C, OUT, IN, HELP, UNK = (
    IntentKind.CANCEL,
    IntentKind.OPT_OUT,
    IntentKind.OPT_IN,
    IntentKind.HELP,
    IntentKind.UNKNOWN,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("PERU 4821", InboundIntent(C, "PERU", "4821")),
        ("peru 4821", InboundIntent(C, "PERU", "4821")),
        ("  Peru,   4821! ", InboundIntent(C, "PERU", "4821")),
        ("PERU4821", InboundIntent(C, "PERU", "4821")),
        ("PERU\n4821.", InboundIntent(C, "PERU", "4821")),
        ("ＰＥＲＵ　４８２１", InboundIntent(C, "PERU", "4821")),
        ("AVBOKA 4821", InboundIntent(C, "AVBOKA", "4821")),
        ("avboka", InboundIntent(C, "AVBOKA")),
        ("PERU", InboundIntent(C, "PERU")),
        ("Peru.", InboundIntent(C, "PERU")),
        ("STOP", InboundIntent(OUT, "STOP")),
        ("stop ", InboundIntent(OUT, "STOP")),
        ("STOPALL", InboundIntent(OUT, "STOPALL")),
        ("Unsubscribe", InboundIntent(OUT, "UNSUBSCRIBE")),
        ("CANCEL", InboundIntent(OUT, "CANCEL")),
        ("cancel!", InboundIntent(OUT, "CANCEL")),
        ("END", InboundIntent(OUT, "END")),
        ("QUIT", InboundIntent(OUT, "QUIT")),
        ("REVOKE", InboundIntent(OUT, "REVOKE")),
        ("OPTOUT", InboundIntent(OUT, "OPTOUT")),
        ("START", InboundIntent(IN, "START")),
        ("yes", InboundIntent(IN, "YES")),
        ("UNSTOP", InboundIntent(IN, "UNSTOP")),
        ("HELP", InboundIntent(HELP, "HELP")),
        ("info", InboundIntent(HELP, "INFO")),
        ("CANCEL 4821", InboundIntent(UNK)),  # reserved words never cancel
        ("STOP 4821", InboundIntent(UNK)),
        ("PERU 12", InboundIntent(UNK)),  # too short to be a code
        ("PERU abcd", InboundIntent(UNK)),
        ("PERU 4821 kiitos", InboundIntent(UNK)),
        ("Voinko perua ajan?", InboundIntent(UNK)),
        ("peruutus", InboundIntent(UNK)),
        ("4821", InboundIntent(UNK)),
        ("", InboundIntent(UNK)),
        ("   ", InboundIntent(UNK)),
        ("😀", InboundIntent(UNK)),
    ],
)
def test_parse_inbound_sms(body: str, expected: InboundIntent) -> None:
    """Each body maps to exactly the intent in the table (cancel only for PERU/AVBOKA)."""
    assert parse_inbound_sms(body) == expected


def test_twiml_message_escapes_text() -> None:
    """A messaging reply is one <Message> with the text XML-escaped."""
    xml = twiml_message("Aika <peruttu> & ok")
    root = ElementTree.fromstring(xml)  # noqa: S314 - our own TwiML
    assert root.tag == "Response"
    assert [(m.tag, m.text) for m in root] == [("Message", "Aika <peruttu> & ok")]


def test_twiml_no_reply_is_empty_response() -> None:
    """The no-reply document is an empty <Response>."""
    root = ElementTree.fromstring(twiml_no_reply())  # noqa: S314 - our own TwiML
    assert root.tag == "Response"
    assert len(root) == 0


def test_twiml_gather_says_prompt_in_language() -> None:
    """A <Gather> posts one digit to the action URL and says the prompt in Finnish."""
    xml = twiml_gather(
        "Paina 1", language=Language.FI, action_url="https://x.example/v?s=1", fallback="Hei hei"
    )
    root = ElementTree.fromstring(xml)  # noqa: S314 - our own TwiML
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["action"] == "https://x.example/v?s=1"
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["method"] == "POST"
    say = gather.find("Say")
    assert say is not None
    assert say.text == "Paina 1"
    assert say.attrib["language"] == "fi-FI"
    assert [el.tag for el in root] == ["Gather", "Say", "Hangup"]


@pytest.mark.parametrize(("language", "code"), [(Language.SV, "sv-SE"), (Language.EN, "en-GB")])
def test_twiml_say_language(language: Language, code: str) -> None:
    """<Say> carries the voice language of the recipient."""
    root = ElementTree.fromstring(twiml_say("Tack", language=language))  # noqa: S314 - our own TwiML
    say = root.find("Say")
    assert say is not None
    assert say.attrib["language"] == code


# Twilio's text-to-speech table (https://www.twilio.com/docs/voice/twiml/say/text-speech): the
# voices that speak each language we use. Without a voice <Say> takes the account's default
# ("man"), which has no Finnish or Swedish; Polly's Finnish voice exists only as Suvi-Neural.
DOCUMENTED_VOICES = {
    "fi-FI": {"Polly.Suvi-Neural", "Google.fi-FI-Standard-A", "Google.fi-FI-Wavenet-A"},
    "sv-SE": {"Polly.Astrid", "Polly.Elin-Neural", "Google.sv-SE-Standard-A",
              "Google.sv-SE-Wavenet-A"},
    "en-GB": {"Polly.Amy", "Polly.Emma", "Polly.Brian", "Polly.Amy-Neural", "Polly.Emma-Neural",
              "Polly.Brian-Neural", "Polly.Arthur-Neural", "Google.en-GB-Standard-A",
              "Google.en-GB-Wavenet-A"},
}
LOCALE = {Language.FI: "fi-FI", Language.SV: "sv-SE", Language.EN: "en-GB"}


def _says(xml: str) -> list[tuple[str, str | None, str | None]]:
    root = ElementTree.fromstring(xml)  # noqa: S314 - our own TwiML
    return [(s.attrib["language"], s.attrib.get("voice"), s.text) for s in root.iter("Say")]


@pytest.mark.parametrize("language", list(Language))
def test_every_say_has_a_documented_voice_for_its_language(language: Language) -> None:
    """Each <Say> names a voice Twilio documents for its language, in every TwiML we write."""
    documents = [
        twiml_say("a", language=language),
        twiml_gather("a", language=language, action_url="https://x.example/g", fallback="b"),
        twiml_say_in_turn([(language, "a")]),
    ]
    for xml in documents:
        for locale, voice, _ in _says(xml):
            assert locale == LOCALE[language]
            assert voice in DOCUMENTED_VOICES[locale], (locale, voice)


def test_say_in_turn_speaks_each_language_with_its_voice_then_hangs_up() -> None:
    """The neutral call answer: one <Say> per language in the order given, then <Hangup>."""
    xml = twiml_say_in_turn([(Language.FI, "Hei"), (Language.SV, "Hej"), (Language.EN, "Hi")])
    assert [(locale, text) for locale, _, text in _says(xml)] == [
        ("fi-FI", "Hei"), ("sv-SE", "Hej"), ("en-GB", "Hi")]
    assert [el.tag for el in ElementTree.fromstring(xml)] == ["Say", "Say", "Say", "Hangup"]  # noqa: S314


PUBLIC = "https://msg.example.fi"
TOKEN = "hook-token"
PARAMS = inbound_sms_params(account_sid="AC" + "1" * 32, from_="+358401", to="+358402", body="PERU")


def test_signature_valid_for_public_url() -> None:
    """A signature over the public URL validates against the configured base URL."""
    sig = sign(TOKEN, f"{PUBLIC}/webhooks/twilio/sms", PARAMS)
    assert is_valid_twilio_signature(
        auth_token=TOKEN,
        public_base_url=PUBLIC + "/",
        path_qs="/webhooks/twilio/sms",
        params=PARAMS,
        signature=sig,
    )


@pytest.mark.parametrize(
    ("signed_url", "token", "params_change", "signature_override"),
    [
        ("http://10.0.0.5:8080/webhooks/twilio/sms", TOKEN, {}, None),  # internal URL
        (f"{PUBLIC}/webhooks/twilio/other", TOKEN, {}, None),  # another path
        (f"{PUBLIC}/webhooks/twilio/sms", "other-token", {}, None),  # forged key
        (f"{PUBLIC}/webhooks/twilio/sms", TOKEN, {"Body": "PERU 1111"}, None),  # tampered
        (f"{PUBLIC}/webhooks/twilio/sms", TOKEN, {}, ""),  # empty header
        (f"{PUBLIC}/webhooks/twilio/sms", TOKEN, {}, "bm90LWEtc2lnbmF0dXJl"),  # junk
    ],
)
def test_signature_rejections(
    signed_url: str, token: str, params_change: dict[str, str], signature_override: str | None
) -> None:
    """Wrong URL, wrong key, tampered params, empty or junk signatures all fail."""
    sig = sign(token, signed_url, PARAMS) if signature_override is None else signature_override
    assert not is_valid_twilio_signature(
        auth_token=TOKEN,
        public_base_url=PUBLIC,
        path_qs="/webhooks/twilio/sms",
        params={**PARAMS, **params_change},
        signature=sig,
    )


def test_missing_signature_or_token_is_invalid() -> None:
    """No header (None) or an unset auth token never validates."""
    sig = sign(TOKEN, f"{PUBLIC}/webhooks/twilio/sms", PARAMS)
    common: dict[str, Any] = {
        "public_base_url": PUBLIC,
        "path_qs": "/webhooks/twilio/sms",
        "params": PARAMS,
    }
    assert not is_valid_twilio_signature(auth_token=TOKEN, signature=None, **common)
    assert not is_valid_twilio_signature(auth_token="", signature=sig, **common)


def test_public_webhook_url_needs_absolute_path() -> None:
    """The path must start with '/', so a host cannot be smuggled in."""
    assert public_webhook_url("https://a.example/", "/x?y=1") == "https://a.example/x?y=1"
    with pytest.raises(ValueError, match="start with"):
        public_webhook_url("https://a.example", "@evil.example/x")


# A real webhook receiver "behind a proxy": it validates against PUBLIC, not request.url.


@pytest.fixture
async def guarded_hook() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    accepted: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        form = await request.post()
        ok = is_valid_twilio_signature(
            auth_token=TOKEN,
            public_base_url=PUBLIC,
            path_qs=request.path_qs,
            params=form,
            signature=request.headers.get("X-Twilio-Signature"),
        )
        if not ok:
            return web.Response(status=403)
        accepted.append({k: str(v) for k, v in form.items()})
        reply = twiml_message("ok")
        return web.Response(text=reply, content_type="application/xml")

    app = web.Application()
    app.router.add_post("/webhooks/twilio/sms", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/twilio/sms", accepted
    await runner.cleanup()


async def test_proxied_webhook_signed_over_public_url_is_accepted(
    guarded_hook: tuple[str, list[dict[str, str]]],
) -> None:
    """Posted to the internal address but signed over the public URL: accepted with TwiML."""
    url, accepted = guarded_hook
    reply = await send_inbound_sms(
        url,
        auth_token=TOKEN,
        account_sid="AC" + "1" * 32,
        from_="+358401234567",
        to="+358451234000",
        body="PERU 4821",
        message_sid="SM" + "c" * 32,
        signed_url=f"{PUBLIC}/webhooks/twilio/sms",
    )
    assert reply.status == 200
    assert "<Message>ok</Message>" in reply.body
    assert accepted[0]["Body"] == "PERU 4821"
    assert accepted[0]["MessageSid"] == "SM" + "c" * 32


async def test_webhook_signed_over_request_url_is_refused(
    guarded_hook: tuple[str, list[dict[str, str]]],
) -> None:
    """Signed over the internal request URL (what a naive check uses): 403."""
    url, accepted = guarded_hook
    reply = await send_inbound_sms(
        url, auth_token=TOKEN, account_sid="AC1", from_="+3584", to="+3585", body="PERU"
    )
    assert reply.status == 403
    assert accepted == []


async def test_forged_and_missing_signatures_are_refused(
    guarded_hook: tuple[str, list[dict[str, str]]],
) -> None:
    """A forged or missing X-Twilio-Signature gets 403 and nothing is accepted."""
    url, accepted = guarded_hook
    forged = await send_forged_inbound_sms(
        url, auth_token=TOKEN, account_sid="AC1", from_="+3584", to="+3585", body="PERU"
    )
    missing = await post_webhook(
        url,
        PARAMS,
        auth_token=TOKEN,
        signed_url=f"{PUBLIC}/webhooks/twilio/sms",
        mode=SignatureMode.MISSING,
    )
    assert (forged.status, missing.status) == (403, 403)
    assert accepted == []
