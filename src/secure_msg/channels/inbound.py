"""Inbound SMS and voice on Twilio: TwiML replies and webhook signature checks.

What a message asks for is model/inbound.py; this module writes the answers as TwiML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from secure_msg.model.notice_templates import Language

SIGNATURE_HEADER = "X-Twilio-Signature"


# --- TwiML -----------------------------------------------------------------

VOICE_LANGUAGE: Mapping[Language, str] = {
    Language.FI: "fi-FI",
    Language.SV: "sv-SE",
    Language.EN: "en-GB",
}
# A voice that speaks each language, from Twilio's text-to-speech table
# (https://www.twilio.com/docs/voice/twiml/say/text-speech). Without one, <Say> takes the
# account's default voice ("man"), which speaks neither Finnish nor Swedish, and Twilio warns
# that an invalid voice/language pair "may result in error and <Say> instruction failure".
# Amazon Polly's only Finnish voice is neural (Suvi), so all three are Polly neural voices.
VOICE: Mapping[Language, str] = {
    Language.FI: "Polly.Suvi-Neural",
    Language.SV: "Polly.Elin-Neural",
    Language.EN: "Polly.Amy-Neural",
}


def _say(parent: Any, text: str, language: Language) -> None:
    parent.say(text, voice=VOICE[language], language=VOICE_LANGUAGE[language])


def twiml_message(text: str) -> str:
    """A messaging TwiML reply that sends `text` back to the sender, on the channel (SMS or
    WhatsApp) and from the number the message came in on."""
    response = MessagingResponse()
    response.message(text)
    return str(response.to_xml())


def twiml_no_reply() -> str:
    """An empty messaging TwiML document: acknowledge, send nothing."""
    return str(MessagingResponse().to_xml())


def twiml_gather(
    prompt: str,
    *,
    language: Language,
    action_url: str,
    fallback: str,
    num_digits: int = 1,
    timeout_seconds: int = 6,
) -> str:
    """Voice TwiML: say `prompt` while waiting for key presses posted to `action_url`.

    When the caller presses nothing, `fallback` is said and the call ends.
    """
    response = VoiceResponse()
    gather = response.gather(
        num_digits=num_digits, action=action_url, method="POST", timeout=timeout_seconds
    )
    _say(gather, prompt, language)
    _say(response, fallback, language)
    response.hangup()
    return str(response.to_xml())


def twiml_say(text: str, *, language: Language) -> str:
    """Voice TwiML: say `text` in `language`, then hang up."""
    return twiml_say_in_turn([(language, text)])


def twiml_say_in_turn(lines: Sequence[tuple[Language, str]]) -> str:
    """Voice TwiML: say each text in its language and voice, in order, then hang up."""
    response = VoiceResponse()
    for language, text in lines:
        _say(response, text, language)
    response.hangup()
    return str(response.to_xml())


class TwimlReplies:
    """model.inbound.ReplyFormat written as TwiML: what the inbound service answers with."""

    def message(self, text: str) -> str:
        return twiml_message(text)

    def no_reply(self) -> str:
        return twiml_no_reply()

    def say(self, text: str, *, language: Language) -> str:
        return twiml_say(text, language=language)

    def say_in_turn(self, lines: Sequence[tuple[Language, str]]) -> str:
        return twiml_say_in_turn(lines)

    def gather(self, prompt: str, *, language: Language, action_url: str,
               fallback: str) -> str:
        return twiml_gather(prompt, language=language, action_url=action_url, fallback=fallback)


TWIML_REPLIES = TwimlReplies()


# --- Signatures ------------------------------------------------------------


def public_webhook_url(public_base_url: str, path_qs: str) -> str:
    """The URL Twilio signed: the configured public base URL plus the request path and query.

    Behind a reverse proxy `request.url` shows the internal address, which
    Twilio never saw, so it must not be used for validation.
    """
    if not path_qs.startswith("/"):
        raise ValueError("path_qs must start with '/'")
    return public_base_url.rstrip("/") + path_qs


def is_valid_twilio_signature(
    *,
    auth_token: str,
    public_base_url: str,
    path_qs: str,
    params: Mapping[str, str] | Any,
    signature: str | None,
) -> bool:
    """True when `signature` (X-Twilio-Signature) matches the form `params` for this URL.

    `params` may be a plain mapping or aiohttp's MultiDict from `request.post()`.
    A missing or empty signature is never valid.
    """
    if not signature or not auth_token:
        return False
    url = public_webhook_url(public_base_url, path_qs)
    return bool(RequestValidator(auth_token).validate(url, params, signature))
