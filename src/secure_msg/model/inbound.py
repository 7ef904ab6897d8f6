"""What an inbound SMS asks for, and the replies a call or message gets (DESIGN §5).

Parsing is deliberately strict: only `PERU`/`AVBOKA`, optionally followed by
a code, cancels anything, so a chatty reply never cancels by accident. Twilio's
own keywords are consent changes (Twilio acts on them before we see them, so
we only record them) and never cancel.

`ReplyFormat` is what a service needs to answer: channels/inbound.py writes it as TwiML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from secure_msg.model.notice_templates import Language


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


class ReplyFormat(Protocol):
    """How an answer to an inbound message or call is written (TwiML in production)."""

    def message(self, text: str) -> str: ...

    def no_reply(self) -> str: ...

    def say(self, text: str, *, language: Language) -> str: ...

    def say_in_turn(self, lines: Sequence[tuple[Language, str]]) -> str: ...

    def gather(self, prompt: str, *, language: Language, action_url: str,
               fallback: str) -> str: ...
