"""Notice templates with typed slots (DESIGN §1.2, §1.3, §5).

Plain channels carry only these texts. A template names its slots with
`{date}`, `{time}`, `{code}`, `{link}` and `{via}`; each slot has a type, and a value
that does not match the type is refused, so user-written text can never be
smuggled into an SMS. Dates and times are shown in Europe/Helsinki.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")


class Language(StrEnum):
    FI = "fi"
    SV = "sv"
    EN = "en"


class NoticeKind(StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"
    CANCELLED_BY_THERAPIST = "cancelled_by_therapist"
    CANCELLATION_CONFIRMED = "cancellation_confirmed"
    FAMILY_CANCELLED_ALERT = "family_cancelled_alert"
    OPT_OUT_ALERT = "opt_out_alert"
    NEW_ENTRY_PING = "new_entry_ping"
    PERIOD_ENDING = "period_ending"
    NEUTRAL_REPLY = "neutral_reply"
    VOICE_NEXT_APPOINTMENT = "voice_next_appointment"
    VOICE_CANCELLED = "voice_cancelled"
    VOICE_GOODBYE = "voice_goodbye"
    VOICE_UNKNOWN = "voice_unknown"
    # Closing and retention (model/booklet_lifecycle.py): the date is the purge date.
    BOOKLET_CLOSED = "booklet_closed"
    EXPORT_REMINDER = "export_reminder"
    # A share to someone outside the booklet (model/shares.py): the code, and until when.
    SHARE_CODE = "share_code"


class Slot(StrEnum):
    DATE = "date"  # an aware datetime, shown as a date in Helsinki
    TIME = "time"  # an aware datetime, shown as a time in Helsinki
    CODE = "code"  # a short cancel code, ASCII digits only
    LINK = "link"  # an http(s) URL
    VIA = "via"  # how a family cancelled: one of CANCEL_CHANNELS, shown in words


SLOTS: Mapping[NoticeKind, frozenset[Slot]] = {
    NoticeKind.INVITATION: frozenset({Slot.LINK}),
    # The reminder carries the cancel code so "PERU 1234" is unambiguous.
    NoticeKind.REMINDER: frozenset({Slot.DATE, Slot.TIME, Slot.CODE}),
    NoticeKind.CANCELLED_BY_THERAPIST: frozenset({Slot.DATE, Slot.TIME}),
    NoticeKind.CANCELLATION_CONFIRMED: frozenset({Slot.DATE, Slot.TIME}),
    # `via` tells the therapist truthfully how the family cancelled (a spoofed call shows).
    NoticeKind.FAMILY_CANCELLED_ALERT: frozenset({Slot.DATE, Slot.TIME, Slot.CODE, Slot.VIA}),
    # The link opens the booklet in the web inbox: it names the family to its therapist only.
    NoticeKind.OPT_OUT_ALERT: frozenset({Slot.LINK}),
    NoticeKind.NEW_ENTRY_PING: frozenset({Slot.LINK}),
    NoticeKind.PERIOD_ENDING: frozenset({Slot.DATE}),
    NoticeKind.NEUTRAL_REPLY: frozenset(),
    NoticeKind.VOICE_NEXT_APPOINTMENT: frozenset({Slot.DATE, Slot.TIME}),
    NoticeKind.VOICE_CANCELLED: frozenset({Slot.DATE, Slot.TIME}),
    NoticeKind.VOICE_GOODBYE: frozenset(),
    NoticeKind.VOICE_UNKNOWN: frozenset(),
    NoticeKind.BOOKLET_CLOSED: frozenset({Slot.DATE, Slot.LINK}),
    NoticeKind.EXPORT_REMINDER: frozenset({Slot.DATE, Slot.LINK}),
    NoticeKind.SHARE_CODE: frozenset({Slot.CODE, Slot.DATE}),
}

# An answer that must not depend on who asked (the neutral reply, the unknown caller's message)
# is given in every language, in this order: a family's language would tell a stranger with a
# spoofed number that the number is a client's (DESIGN §5).
EVERY_LANGUAGE: tuple[Language, ...] = (Language.FI, Language.SV, Language.EN)

CANCEL_KEYWORD: Mapping[Language, str] = {
    Language.FI: "PERU",
    Language.SV: "AVBOKA",
    # CANCEL is a Twilio opt-out keyword, so English speakers use PERU too.
    Language.EN: "PERU",
}

# The channels a family cancels through (appointments.cancelled_via), as a `via` slot shows them.
CANCEL_CHANNELS: Mapping[str, Mapping[Language, str]] = {
    "sms": {Language.FI: "tekstiviestillä", Language.SV: "per sms",
            Language.EN: "by text message"},
    "voice": {Language.FI: "puhelimitse", Language.SV: "per telefon", Language.EN: "by phone"},
    "api": {Language.FI: "sovelluksessa", Language.SV: "i appen", Language.EN: "in the app"},
    "whatsapp": {Language.FI: "WhatsAppilla", Language.SV: "per WhatsApp",
                 Language.EN: "by WhatsApp"},
}

_WEEKDAYS: Mapping[Language, tuple[str, ...]] = {
    Language.FI: ("ma", "ti", "ke", "to", "pe", "la", "su"),
    Language.SV: ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
    Language.EN: ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_CODE = re.compile(r"[0-9]{3,8}")
# RFC 3986 characters only: no spaces, quotes, angle brackets or non-ASCII.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
MAX_LINK_LENGTH = 200
_SENDER = re.compile(r"[A-Za-z0-9ÄÖÅäöå .\-]{1,30}")


class TemplateError(ValueError):
    """A template file or a slot value is not acceptable; the message names which."""


def format_date(when: datetime, language: Language) -> str:
    """The date of `when` in Helsinki, e.g. fi 'ti 13.5.2025', en 'Tue 13 May 2025'."""
    local = when.astimezone(HELSINKI)
    weekday = _WEEKDAYS[language][local.weekday()]
    if language is Language.EN:
        return f"{weekday} {local.day} {_EN_MONTHS[local.month - 1]} {local.year}"
    return f"{weekday} {local.day}.{local.month}.{local.year}"


def format_time(when: datetime, language: Language) -> str:
    """The clock time of `when` in Helsinki: fi/sv '14.30', en '14:30'."""
    local = when.astimezone(HELSINKI)
    separator = ":" if language is Language.EN else "."
    return f"{local.hour:02d}{separator}{local.minute:02d}"


def _aware(slot: Slot, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise TemplateError(f"slot {slot} needs a timezone-aware datetime")
    return value


def check_code(value: object) -> str:
    """Return `value` if it is a short code of 3-8 ASCII digits, else raise TemplateError."""
    if not isinstance(value, str) or _CODE.fullmatch(value) is None:
        raise TemplateError("slot code needs 3-8 ASCII digits")
    return value


def check_link(value: object, origin: str | None = None) -> str:
    """Return `value` if it is a plain http(s) URL (under `origin` when given)."""
    if not isinstance(value, str) or len(value) > MAX_LINK_LENGTH:
        raise TemplateError("slot link needs an http(s) URL")
    if _URL_CHARS.fullmatch(value) is None:
        raise TemplateError("slot link contains characters not allowed in a URL")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username:
        raise TemplateError("slot link needs an http(s) URL with a host")
    if origin is not None and not value.startswith(origin.rstrip("/") + "/"):
        raise TemplateError("slot link is not under the configured public URL")
    return value


def check_via(value: object, language: Language) -> str:
    """The words for cancel channel `value` (sms, voice, api) in `language`."""
    if not isinstance(value, str) or value not in CANCEL_CHANNELS:
        raise TemplateError(f"slot via needs one of {sorted(CANCEL_CHANNELS)}")
    return CANCEL_CHANNELS[value][language]


def _format_slot(slot: Slot, value: object, language: Language, origin: str | None) -> str:
    if slot is Slot.VIA:
        return check_via(value, language)
    if slot is Slot.DATE:
        return format_date(_aware(slot, value), language)
    if slot is Slot.TIME:
        return format_time(_aware(slot, value), language)
    if slot is Slot.CODE:
        return check_code(value)
    return check_link(value, origin)


def _placeholders(kind: NoticeKind, text: str) -> frozenset[Slot]:
    names: set[Slot] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"template {kind}: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or name not in Slot.__members__.values():
            raise TemplateError(f"template {kind}: placeholder {{{name}}} is not a plain slot")
        names.add(Slot(name))
    return frozenset(names)


@dataclass(frozen=True)
class TemplateSet:
    """All notice texts of one language, checked against the slot table."""

    language: Language
    texts: Mapping[NoticeKind, str]

    @classmethod
    def from_mapping(cls, language: Language, raw: Mapping[str, object]) -> TemplateSet:
        """Validate a `{kind: text}` mapping: every kind present, exact slots, no extras."""
        unknown = sorted(set(raw) - set(NoticeKind.__members__.values()))
        if unknown:
            raise TemplateError(f"{language}: unknown template kinds {unknown}")
        texts: dict[NoticeKind, str] = {}
        for kind in NoticeKind:
            text = raw.get(kind.value)
            if not isinstance(text, str) or not text.strip():
                raise TemplateError(f"{language}: template {kind} is missing")
            found = _placeholders(kind, text)
            if found != SLOTS[kind]:
                expected = sorted(SLOTS[kind])
                raise TemplateError(f"{language}: template {kind} must use exactly {expected}")
            texts[kind] = text
        return cls(language=language, texts=texts)

    @classmethod
    def load(cls, path: Path) -> TemplateSet:
        """Load `<lang>.toml` whose `[templates]` table maps kinds to texts."""
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        language = Language(data.get("language", path.stem))
        templates = data.get("templates")
        if not isinstance(templates, dict):
            raise TemplateError(f"{path.name}: missing [templates] table")
        return cls.from_mapping(language, templates)


def default_templates_dir() -> Path:
    """config/templates of the source tree (the server passes its configured dir)."""
    return Path(__file__).resolve().parents[3] / "config" / "templates"


@dataclass(frozen=True)
class NoticeRenderer:
    """Renders notices; `sender_name` (opt-in, DESIGN §1.3) prefixes SMS-style texts."""

    templates: Mapping[Language, TemplateSet]
    sender_name: str | None = None
    link_origin: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.sender_name is not None and _SENDER.fullmatch(self.sender_name) is None:
            raise TemplateError("sender_name must be 1-30 letters, digits, spaces, '.' or '-'")

    @classmethod
    def load(
        cls,
        directory: Path | None = None,
        *,
        sender_name: str | None = None,
        link_origin: str | None = None,
    ) -> NoticeRenderer:
        """Load fi/sv/en templates from `directory` (default: config/templates)."""
        base = directory or default_templates_dir()
        sets = {lang: TemplateSet.load(base / f"{lang.value}.toml") for lang in Language}
        for lang, template_set in sets.items():
            if template_set.language is not lang:
                raise TemplateError(f"{lang}.toml declares language {template_set.language}")
        return cls(templates=sets, sender_name=sender_name, link_origin=link_origin)

    def render(self, kind: NoticeKind, language: Language, slots: Mapping[str, object]) -> str:
        """The text of `kind` in `language`; refuses unknown, missing or ill-typed slots."""
        return self._prefixed(kind, self._plain(kind, language, slots))

    def in_every_language(self, kind: NoticeKind) -> list[tuple[Language, str]]:
        """`kind`, a text without slots, in each of EVERY_LANGUAGE: one answer for anyone."""
        return [(lang, self._prefixed(kind, text)) for lang, text in self._every(kind)]

    def render_every_language(self, kind: NoticeKind) -> str:
        """`kind` in every language as one SMS text, a line each, the sender name once."""
        return self._prefixed(kind, "\n".join(text for _, text in self._every(kind)))

    def _every(self, kind: NoticeKind) -> list[tuple[Language, str]]:
        if SLOTS[kind]:
            raise TemplateError(f"{kind}: an answer in every language takes no slots")
        return [(lang, self._plain(kind, lang, {})) for lang in EVERY_LANGUAGE]

    def _plain(self, kind: NoticeKind, language: Language, slots: Mapping[str, object]) -> str:
        values = self.slot_values(kind, language, slots)
        return self.templates[language].texts[kind].format_map(values)

    def _prefixed(self, kind: NoticeKind, text: str) -> str:
        is_voice = kind.value.startswith("voice_")
        if self.sender_name and not is_voice:
            return f"{self.sender_name}: {text}"
        return text

    def slot_values(
        self, kind: NoticeKind, language: Language, slots: Mapping[str, object]
    ) -> dict[str, str]:
        """Each typed slot of `kind` formatted for `language` (what a template shows, e.g. for
        WhatsApp's approved templates); refuses unknown, missing or ill-typed slots."""
        expected = SLOTS[kind]
        unknown = sorted(set(slots) - {s.value for s in expected})
        if unknown:
            raise TemplateError(f"{kind}: unknown slots {unknown}")
        missing = sorted(s.value for s in expected if s.value not in slots)
        if missing:
            raise TemplateError(f"{kind}: missing slots {missing}")
        return {
            s.value: _format_slot(s, slots[s.value], language, self.link_origin) for s in expected
        }
