"""Notices (outbox rows) as values: what to send, to whom, and where it stands.

Lifecycle (`TRANSITIONS`; storage/notices.py derives every UPDATE's status guard from it):

    queued ──claim──► sending ──► sent ──status callback or poll──► delivered | undelivered
       ▲                 │ │ └──► failed (permanent error) | skipped | expired (too late)
       └── not sent ◄────┘ └──► ambiguous (may have been created) ──claim──► sending
                                 then, before any resend, reconcile with the provider:
                                 found once ──► reconciled ──► delivered | undelivered
                                 found twice or more ──► duplicate_suspected

A claim is a lease (`claimed_until_ms`) held by one process (`claimed_by`). When that process
is gone the notice is claimed again (sending → sending) and, like an ambiguous one, reconciled
before it is sent, so a crash while a create was in flight neither loses nor repeats it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from secure_msg.model.channel_policy import Channel
from secure_msg.model.lifecycle import sources
from secure_msg.model.notice_templates import SLOTS, Language, NoticeKind, Slot


class NoticeStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    AMBIGUOUS = "ambiguous"  # an attempt may have created it: reconcile before any resend
    SENT = "sent"
    RECONCILED = "reconciled"  # found at the provider after an ambiguous attempt; sid adopted
    DUPLICATE_SUSPECTED = "duplicate_suspected"  # found at the provider more than once
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    EXPIRED = "expired"  # not sent while still useful (appointment began, horizon passed)


_N = NoticeStatus
# Every status change storage/notices.py makes; each UPDATE there accepts exactly the prior
# statuses this table lets become its target.
TRANSITIONS: Mapping[NoticeStatus, frozenset[NoticeStatus]] = MappingProxyType({
    _N.QUEUED: frozenset({_N.SENDING, _N.FAILED, _N.SKIPPED}),
    # sending → sending: the claiming process is gone and the notice is claimed again.
    _N.SENDING: frozenset({_N.SENDING, _N.SENT, _N.QUEUED, _N.AMBIGUOUS, _N.RECONCILED,
                           _N.DUPLICATE_SUSPECTED, _N.FAILED, _N.SKIPPED, _N.EXPIRED}),
    _N.AMBIGUOUS: frozenset({_N.SENDING}),
    _N.SENT: frozenset({_N.DELIVERED, _N.UNDELIVERED}),
    _N.RECONCILED: frozenset({_N.DELIVERED, _N.UNDELIVERED}),
    _N.DUPLICATE_SUSPECTED: frozenset(),
    _N.DELIVERED: frozenset(),
    _N.UNDELIVERED: frozenset(),
    _N.FAILED: frozenset(),
    _N.SKIPPED: frozenset(),
    _N.EXPIRED: frozenset(),
})
# What a claim takes; a notice in any other status will never be sent again.
CLAIMABLE = sources(TRANSITIONS, _N.SENDING)
# Claimed from these, a notice may already exist at the provider: reconcile before sending.
MUST_RECONCILE = frozenset({_N.AMBIGUOUS, _N.SENDING})
# What the worker records when it gives a notice up (services/outbox.settle_final).
GIVEN_UP = frozenset({_N.FAILED, _N.SKIPPED, _N.EXPIRED})
# What a reconcile that found the message records.
FOUND = frozenset({_N.RECONCILED, _N.DUPLICATE_SUSPECTED})
# Handed to the provider but not yet reported delivered or not: what the status poll asks about.
UNCONFIRMED = frozenset({_N.SENT, _N.RECONCILED})

# Provider status callbacks move a sent notice forward only (callbacks can arrive out of order).
CALLBACK_RANK = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3,
                 "undelivered": 3, "failed": 3}
# Our own statuses that have a provider sid but no provider name, ranked like `sent`.
_OWN_RANK = {"reconciled": 2}
# The status each provider status would mean for the notice: the provider's `failed` comes after
# it accepted the message, so to us the notice is undelivered (the worker's own `failed` is not).
CALLBACK_STATUS: Mapping[str, NoticeStatus] = MappingProxyType({
    "queued": _N.QUEUED, "accepted": _N.QUEUED, "sending": _N.SENDING, "sent": _N.SENT,
    "delivered": _N.DELIVERED, "undelivered": _N.UNDELIVERED, "failed": _N.UNDELIVERED,
})

# What therapists are shown: notices that did not (or may not have) reached the family as meant.
VISIBLE_PROBLEMS = (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED, NoticeStatus.AMBIGUOUS,
                    NoticeStatus.RECONCILED, NoticeStatus.DUPLICATE_SUSPECTED,
                    NoticeStatus.EXPIRED)
# Kinds that wait out quiet hours; cancellations and replies go at once. The STOP alert waits:
# it is not urgent, and a spoofed STOP at night should not also wake the therapist.
QUIET_KINDS = frozenset({NoticeKind.REMINDER, NoticeKind.PERIOD_ENDING,
                         NoticeKind.NEW_ENTRY_PING, NoticeKind.INVITATION,
                         NoticeKind.OPT_OUT_ALERT, NoticeKind.BOOKLET_CLOSED,
                         NoticeKind.EXPORT_REMINDER})
# A reconcile looks for messages created this long before the first claim: the provider's clock
# and ours may differ a little.
RECONCILE_SKEW_MS = 60_000
# Sent notices without a final status are polled for at most this long after they were queued.
POLL_FOR_MS = 3 * 86_400_000

SlotValue = int | str  # times as Unix ms; codes and links as text


def deadline_ms(kind: NoticeKind, slots: Mapping[str, SlotValue], first_due_ms: int,
                horizon_ms: int) -> int:
    """When a notice stops being worth sending: `horizon_ms` after it was first due, or, for a
    notice about an appointment (it has a time slot), when the appointment begins if sooner."""
    deadline = first_due_ms + horizon_ms
    start = slots.get(Slot.TIME.value)
    if Slot.TIME in SLOTS.get(kind, frozenset()) and isinstance(start, int):
        deadline = min(deadline, start)
    return deadline


def reconcile_verdict(found: int) -> NoticeStatus | None:
    """What a reconcile that found `found` matching messages at the provider records: None when
    none (the notice is sent again), reconciled for one, duplicate_suspected for more."""
    if found <= 0:
        return None
    return _N.RECONCILED if found == 1 else _N.DUPLICATE_SUSPECTED


def callback_target(current: NoticeStatus, reported: str) -> NoticeStatus | None:
    """The status a provider callback moves a notice in `current` to, or None when it changes
    nothing: an unknown status, a move the lifecycle forbids, or a late one (not forward).
    A late delivery report for a delivered notice is ignored, never an error."""
    target = CALLBACK_STATUS.get(reported)
    rank = CALLBACK_RANK.get(current, _OWN_RANK.get(current))
    if target is None or rank is None or target not in TRANSITIONS[current]:
        return None
    return target if rank < CALLBACK_RANK[target] else None


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
    attempts: int  # create requests made before this claim (429s not counted)
    ambiguous: int
    dedupe_key: str
    reclaimed: bool = False  # a process that is gone held it: its attempt may have gone out
    reconcile: bool = False  # claimed from ambiguous or reclaimed: reconcile before sending
    not_before_ms: int = 0  # when it was first due (its deadline counts from here)
    first_claim_ms: int = 0  # a reconcile looks for messages created since then


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


@dataclass(frozen=True)
class OutboxFigures:
    """The outbox as /metrics shows it, read in one snapshot."""

    by_status: Mapping[str, int]
    failed_by_reason: Mapping[str, int]
    oldest_due_ms: int | None  # when the longest-waiting due, unsent notice first became due
