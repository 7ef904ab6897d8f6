"""Notices (outbox rows) as values: what to send, to whom, and where it stands.

Lifecycle (enforced by storage/notices.py's conditional UPDATEs):

    queued ──claim──► sending ──► sent ──status callback──► delivered | undelivered
       ▲                 │  └──► failed (permanent error, retries exhausted, opted out)
       └──── retry ◄─────┘      skipped (e.g. a reminder whose appointment was cancelled)

A claim expires (`claimed_until_ms`): after a crash the row is claimed again and the attempt is
counted as possibly duplicated, so nothing queued is lost and duplicates stay bounded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import Language, NoticeKind, Slot


class NoticeStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"


# Provider status callbacks move a sent notice forward only (callbacks can arrive out of order).
CALLBACK_RANK = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3,
                 "undelivered": 3, "failed": 3}
VISIBLE_PROBLEMS = (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED)
# Kinds that wait out quiet hours; cancellations and replies go at once. The STOP alert waits:
# it is not urgent, and a spoofed STOP at night should not also wake the therapist.
QUIET_KINDS = frozenset({NoticeKind.REMINDER, NoticeKind.PERIOD_ENDING,
                         NoticeKind.NEW_ENTRY_PING, NoticeKind.INVITATION,
                         NoticeKind.OPT_OUT_ALERT})

SlotValue = int | str  # times as Unix ms; codes and links as text


@dataclass(frozen=True)
class NewNotice:
    dedupe_key: str
    channel: Channel
    address: str
    kind: NoticeKind
    language: Language
    slots: Mapping[str, SlotValue]
    not_before_ms: int
    recipient_id: bytes | None = None
    booklet_id: bytes | None = None


@dataclass(frozen=True)
class ClaimedNotice:
    id: int
    channel: Channel
    address: str
    kind: NoticeKind
    language: Language
    slots: Mapping[str, SlotValue]
    attempts: int  # including the one about to be made
    ambiguous: int
    dedupe_key: str
    reclaimed: bool = False  # a crashed worker held it: the last attempt may have gone out


@dataclass(frozen=True)
class NoticeView:
    """What a therapist sees of a notice: no address, no text."""

    id: int
    booklet_id: bytes | None
    recipient_id: bytes | None
    channel: str
    kind: str
    status: str
    reason: str | None
    error_code: int | None
    attempts: int
    updated_at_ms: int


@dataclass(frozen=True)
class Contact:
    account_id: bytes
    role: str
    phone: str | None
    email: str | None
    language: Language
    extra: dict[str, str] = field(default_factory=dict)


def render_slots(slots: Mapping[str, SlotValue]) -> dict[str, object]:
    """Stored slot values to what NoticeRenderer takes (times become aware datetimes)."""
    out: dict[str, object] = {}
    for name, value in slots.items():
        if name in (Slot.DATE.value, Slot.TIME.value) and isinstance(value, int):
            out[name] = datetime.fromtimestamp(value / 1000, tz=UTC)
        else:
            out[name] = value
    return out


def language_of(value: str) -> Language:
    try:
        return Language(value)
    except ValueError:
        return Language.FI
