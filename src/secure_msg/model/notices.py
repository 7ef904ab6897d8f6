"""Notices (outbox rows) as values: what to send, to whom, and where it stands.

Lifecycle (`TRANSITIONS`; storage/notices.py derives every UPDATE's status guard from it):

    queued ──claim──► sending ──► sent ──status callback──► delivered | undelivered
       ▲                 │  └──► failed (permanent error, retries exhausted, opted out)
       └──── retry ◄─────┘      skipped (e.g. a reminder whose appointment was cancelled)

A claim expires (`claimed_until_ms`): after a crash the row is claimed again (sending → sending)
and the attempt is counted as possibly duplicated, so nothing queued is lost and duplicates stay
bounded. A queued notice may also be failed or skipped directly.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from secure_msg.model.channel_policy import Channel
from secure_msg.model.lifecycle import sources
from secure_msg.model.notice_templates import Language, NoticeKind, Slot


class NoticeStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"


_N = NoticeStatus
# Every status change storage/notices.py makes; each UPDATE there accepts exactly the prior
# statuses this table lets become its target.
TRANSITIONS: Mapping[NoticeStatus, frozenset[NoticeStatus]] = MappingProxyType({
    _N.QUEUED: frozenset({_N.SENDING, _N.FAILED, _N.SKIPPED}),
    # sending → sending: a crashed worker's lease ran out and the notice is claimed again.
    _N.SENDING: frozenset({_N.SENDING, _N.SENT, _N.QUEUED, _N.FAILED, _N.SKIPPED}),
    _N.SENT: frozenset({_N.DELIVERED, _N.UNDELIVERED}),
    _N.DELIVERED: frozenset(),
    _N.UNDELIVERED: frozenset(),
    _N.FAILED: frozenset(),
    _N.SKIPPED: frozenset(),
})
# What a claim takes; a notice in any other status will never be sent again.
CLAIMABLE = sources(TRANSITIONS, _N.SENDING)
# What the worker records when it gives a notice up (services/outbox.settle_final).
GIVEN_UP = frozenset({_N.FAILED, _N.SKIPPED})

# Provider status callbacks move a sent notice forward only (callbacks can arrive out of order).
CALLBACK_RANK = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3,
                 "undelivered": 3, "failed": 3}
# The status each provider status would mean for the notice: the provider's `failed` comes after
# it accepted the message, so to us the notice is undelivered (the worker's own `failed` is not).
CALLBACK_STATUS: Mapping[str, NoticeStatus] = MappingProxyType({
    "queued": _N.QUEUED, "accepted": _N.QUEUED, "sending": _N.SENDING, "sent": _N.SENT,
    "delivered": _N.DELIVERED, "undelivered": _N.UNDELIVERED, "failed": _N.UNDELIVERED,
})

VISIBLE_PROBLEMS = (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED)
# Kinds that wait out quiet hours; cancellations and replies go at once. The STOP alert waits:
# it is not urgent, and a spoofed STOP at night should not also wake the therapist.
QUIET_KINDS = frozenset({NoticeKind.REMINDER, NoticeKind.PERIOD_ENDING,
                         NoticeKind.NEW_ENTRY_PING, NoticeKind.INVITATION,
                         NoticeKind.OPT_OUT_ALERT})

SlotValue = int | str  # times as Unix ms; codes and links as text


def callback_target(current: NoticeStatus, reported: str) -> NoticeStatus | None:
    """The status a provider callback moves a notice in `current` to, or None when it changes
    nothing: an unknown status, a move the lifecycle forbids, or a late one (not forward).
    A late delivery report for a delivered notice is ignored, never an error."""
    target = CALLBACK_STATUS.get(reported)
    if target is None or target not in TRANSITIONS[current]:
        return None
    return target if CALLBACK_RANK[current] < CALLBACK_RANK[target] else None


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
