"""A booklet's lifecycle after therapy ends: closing, retention and purge (issue 17, item 7).

Lifecycle (`TRANSITIONS`; storage/booklet_lifecycle.py guards every status change with it):

    open ──therapist closes──► closed ──export reminder queued──► purge_scheduled ──► purged

An open booklet has no lifecycle row; closing adds one. A closed booklet is read-only: reading
and exporting go on, every write to it is refused (409 `booklet-closed`). It is purged only
from `purge_scheduled`, that is only after its members were reminded to export, and never
before `retention.export_reminder_days` after that reminder: a purge is never silent. `purged`
is a tombstone (the booklet id and the times), kept so that the admin's retention list and the
audit can say what happened; every row of the booklet itself is gone. There is no way back to
`open`: a family that comes back gets a new booklet.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from secure_msg.errors import BookletClosed

DAY_MS = 86_400_000


class BookletStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    PURGE_SCHEDULED = "purge_scheduled"
    PURGED = "purged"


_B = BookletStatus
# Written out, not computed, so that a new status has to be placed here on purpose.
TRANSITIONS: Mapping[BookletStatus, frozenset[BookletStatus]] = MappingProxyType({
    _B.OPEN: frozenset({_B.CLOSED}),
    _B.CLOSED: frozenset({_B.PURGE_SCHEDULED}),
    _B.PURGE_SCHEDULED: frozenset({_B.PURGED}),
    _B.PURGED: frozenset(),
})


def can_move(old: BookletStatus, new: BookletStatus) -> bool:
    return new in TRANSITIONS[old]


def check_writable(status: BookletStatus) -> None:
    """Raise BookletClosed (409) unless a booklet in `status` takes writes."""
    if status is not BookletStatus.OPEN:
        raise BookletClosed()


@dataclass(frozen=True)
class RetentionRule:
    """The practice-wide rule (config [retention])."""

    closed_booklet_days: int
    export_reminder_days: int

    def purge_after(self, closed_at_ms: int) -> int:
        """The earliest purge of a booklet closed at `closed_at_ms`."""
        return closed_at_ms + self.closed_booklet_days * DAY_MS

    def reminder_due(self, purge_after_ms: int) -> int:
        """When the export reminder goes: `export_reminder_days` before the purge."""
        return purge_after_ms - self.export_reminder_days * DAY_MS

    def purge_after_reminder(self, purge_after_ms: int, reminded_at_ms: int) -> int:
        """The purge date once the reminder went: a reminder that went late (the service was
        down, or the rule changed) still leaves the members the full window to export."""
        return max(purge_after_ms, reminded_at_ms + self.export_reminder_days * DAY_MS)


@dataclass(frozen=True)
class Lifecycle:
    """A booklet's lifecycle row: what the retention list and the inbox show."""

    booklet_id: bytes
    status: BookletStatus
    closed_by: bytes | None
    closed_at_ms: int | None
    purge_after_ms: int | None
    reminded_at_ms: int | None
    purged_at_ms: int | None
