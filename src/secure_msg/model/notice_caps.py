"""How many notices a therapist may send by hand to one member of a booklet.

`POST /api/booklets/{id}/notices` queues a notice at once, so without a cap a therapist (or a
stolen therapist token) could text one parent as often as it liked. The cap counts the notices
sent by hand to the member in the booklet over a sliding hour and a sliding day; notices the
service queues itself (reminders, cancellations, period ends, pings) are not counted. Counting
from the stored notices, not from memory, makes the cap hold across restarts and processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# The dedupe key of every notice a therapist sends by hand starts with this.
MANUAL_KEY_PREFIX = "manual:"


@dataclass(frozen=True)
class CapReached:
    """The window that is full, its limit, and how long until one more notice fits both."""

    limit: int
    window: str  # "hour" or "day"
    wait_ms: int

    @property
    def retry_after_seconds(self) -> int:
        return -(-self.wait_ms // 1000)


@dataclass(frozen=True)
class ManualNoticeCap:
    per_hour: int
    per_day: int

    def check(self, sent_ms: Iterable[int], now_ms: int) -> CapReached | None:
        """None if one more notice may go at `now_ms`, given when the earlier ones were sent
        (those older than a day may be left out); else the window that waits longest."""
        sent = sorted(sent_ms)
        worst: CapReached | None = None
        for window, name, limit in ((HOUR_MS, "hour", self.per_hour),
                                    (DAY_MS, "day", self.per_day)):
            recent = [t for t in sent if t > now_ms - window]
            if len(recent) < limit:
                continue
            # One more fits once all but limit - 1 of the recent ones have left the window.
            wait = recent[len(recent) - limit] + window - now_ms
            if worst is None or wait > worst.wait_ms:
                worst = CapReached(limit, name, wait)
        return worst
