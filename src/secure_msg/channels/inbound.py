"""Inbound SMS and voice: body parsing, TwiML replies and webhook signature checks.

Parsing is deliberately strict: only `PERU`/`AVBOKA`, optionally followed by
a code, cancels anything, so a chatty reply never cancels by accident. Twilio's
own keywords are consent changes (Twilio acts on them before we see them, so
we only record them) and never cancel (DESIGN §5).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from secure_msg.domain.notice_templates import Language

SIGNATURE_HEADER = "X-Twilio-Signature"


class IntentKind(StrEnum):
    CANCEL = "cancel"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    UNKNOWN = "unknown"


CANCEL_WORDS = frozenset({"peru", "avboka"})
OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
OPT_IN_WORDS = frozenset({"start", "yes", "unstop"})
HELP_WORDS = frozenset({"help", "info"})


@dataclass(frozen=True)
class InboundIntent:
    """What an inbound SMS asks for; `code` only for a cancel with a code."""

    kind: IntentKind
    keyword: str | None = None  # the matched keyword, upper case
    code: str | None = None


UNKNOWN = InboundIntent(IntentKind.UNKNOWN)

# Letters and digits runs; everything else (spaces, punctuation, emoji) separates.
_TOKEN = re.compile(r"[^\W_]+")
_CANCEL_GLUED = re.compile(r"(peru|avboka)([0-9]+)")
_CODE = re.compile(r"[0-9]{3,8}")


def _tokens(body: str) -> list[str]:
    # NFKC folds full-width letters and digits, casefold handles case.
    text = unicodedata.normalize("NFKC", body).casefold()
    tokens = _TOKEN.findall(text)
    if len(tokens) == 1 and (glued := _CANCEL_GLUED.fullmatch(tokens[0])):
        return [glued.group(1), glued.group(2)]  # "PERU4821"
    return tokens


def parse_inbound_sms(body: str) -> InboundIntent:
    """Classify an inbound SMS body as cancel / opt-out / opt-in / help / unknown."""
    tokens = _tokens(body)
    if not tokens or len(tokens) > 2:
        return UNKNOWN
    word = tokens[0]
    if len(tokens) == 1:
        if word in CANCEL_WORDS:
            return InboundIntent(IntentKind.CANCEL, keyword=word.upper())
        for words, kind in (
            (OPT_OUT_WORDS, IntentKind.OPT_OUT),
            (OPT_IN_WORDS, IntentKind.OPT_IN),
            (HELP_WORDS, IntentKind.HELP),
        ):
            if word in words:
                return InboundIntent(kind, keyword=word.upper())
        return UNKNOWN
    code = tokens[1]
    if word in CANCEL_WORDS and _CODE.fullmatch(code) and code.isascii():
        return InboundIntent(IntentKind.CANCEL, keyword=word.upper(), code=code)
    return UNKNOWN


# --- TwiML -----------------------------------------------------------------

VOICE_LANGUAGE: Mapping[Language, str] = {
    Language.FI: "fi-FI",
    Language.SV: "sv-SE",
    Language.EN: "en-GB",
}


def twiml_message(text: str) -> str:
    """A messaging TwiML reply that sends `text` back to the sender."""
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
    lang = VOICE_LANGUAGE[language]
    response = VoiceResponse()
    gather = response.gather(
        num_digits=num_digits, action=action_url, method="POST", timeout=timeout_seconds
    )
    gather.say(prompt, language=lang)
    response.say(fallback, language=lang)
    response.hangup()
    return str(response.to_xml())


def twiml_say(text: str, *, language: Language) -> str:
    """Voice TwiML: say `text` in `language`, then hang up."""
    response = VoiceResponse()
    response.say(text, language=VOICE_LANGUAGE[language])
    response.hangup()
    return str(response.to_xml())


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
