"""Appointments, therapy periods and notice scheduling rules as values and pure functions.

Appointment lifecycle (DESIGN §3), the only transitions allowed (`TRANSITIONS`):

    scheduled ──► attended | no_show | cancelled_by_family | cancelled_by_therapist

A cancelled, attended or no-show appointment never changes again (a re-booking is a new one).
storage/appointments.py checks every status change against the table. The notice lifecycle is
in model/notices.py.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from secure_msg.crypto.rng import Rng
from secure_msg.errors import InvalidTransition
from secure_msg.model.lifecycle import sources


class AppointmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED_BY_FAMILY = "cancelled_by_family"
    CANCELLED_BY_THERAPIST = "cancelled_by_therapist"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


_A = AppointmentStatus
# Written out, not computed, so that a new status has to be placed here on purpose.
TRANSITIONS: Mapping[AppointmentStatus, frozenset[AppointmentStatus]] = MappingProxyType({
    _A.SCHEDULED: frozenset({_A.ATTENDED, _A.NO_SHOW, _A.CANCELLED_BY_FAMILY,
                             _A.CANCELLED_BY_THERAPIST}),
    _A.ATTENDED: frozenset(),
    _A.NO_SHOW: frozenset(),
    _A.CANCELLED_BY_FAMILY: frozenset(),
    _A.CANCELLED_BY_THERAPIST: frozenset(),
})


def can_move(old: AppointmentStatus, new: AppointmentStatus) -> bool:
    return new in TRANSITIONS[old]


def check_transition(old: AppointmentStatus, new: AppointmentStatus) -> None:
    """Raise InvalidTransition (409) unless the lifecycle lets `old` become `new`."""
    if can_move(old, new):
        return
    # The detail names the status the appointment would need: for every move the API makes that
    # is "scheduled", so clients see the same detail as before the table existed.
    needed = sorted(sources(TRANSITIONS, new))
    raise InvalidTransition(f"The appointment is not {' or '.join(needed)}." if needed
                            else f"An appointment never becomes {new} again.")


class Payer(enum.StrEnum):
    KELA = "kela"
    MUNICIPALITY = "municipality"
    SELF = "self"
    OTHER = "other"


@dataclass(frozen=True)
class Appointment:
    id: bytes
    booklet_id: bytes
    therapist_id: bytes
    start_ms: int
    duration_min: int
    status: AppointmentStatus
    cancel_code: str
    late: bool
    cancelled_via: str | None


@dataclass(frozen=True)
class Period:
    id: bytes
    booklet_id: bytes
    start_date: date
    end_date: date
    sessions_granted: int
    payer: Payer


@dataclass(frozen=True)
class PeriodSummary:
    period: Period
    attended: int
    late_cancellations: int
    counts_late: bool

    @property
    def used(self) -> int:
        return self.attended + (self.late_cancellations if self.counts_late else 0)

    @property
    def remaining(self) -> int:
        return max(0, self.period.sessions_granted - self.used)

    def text(self) -> str:
        return (f"used {self.used} of {self.period.sessions_granted}, "
                f"period ends {self.period.end_date.isoformat()}")


# The dates appointments and periods may have. Year 1 or 9999 is a typo or a probe, not a
# session, and near the ends of `datetime`'s range a time-zone shift leaves it (year 0, 10000).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def date_problem(day: date) -> str | None:
    """Why `day` cannot be an appointment's or a period's date, or None."""
    if EARLIEST_DATE <= day <= LATEST_DATE:
        return None
    return f"a date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"


def new_cancel_code(rng: Rng, digits: int = 4) -> str:
    """A uniformly random code of `digits` decimal digits (no modulo bias)."""
    limit = 10**digits
    while True:
        value = int.from_bytes(rng(4), "big")
        if value < (2**32 // limit) * limit:
            return f"{value % limit:0{digits}d}"


def is_late(now_ms: int, start_ms: int, window_hours: int) -> bool:
    """A family cancellation inside `window_hours` before the start is late."""
    return start_ms - now_ms < window_hours * 3_600_000


@dataclass(frozen=True)
class QuietHours:
    """Local times between which non-urgent notices wait (start may be after end: overnight)."""

    zone: ZoneInfo
    start: time
    end: time

    @classmethod
    def parse(cls, zone: str, start: str, end: str) -> QuietHours:
        return cls(ZoneInfo(zone), time.fromisoformat(start), time.fromisoformat(end))

    def contains(self, when_ms: int) -> bool:
        local = datetime.fromtimestamp(when_ms / 1000, tz=self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, when_ms: int) -> int:
        """`when_ms` itself, or the end of the quiet period it falls in."""
        if not self.contains(when_ms):
            return when_ms
        local = datetime.fromtimestamp(when_ms / 1000, tz=self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return int(end.timestamp() * 1000)


def minus_months(day: date, months: int) -> date:
    """The same day `months` earlier (clamped to the month's last day)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def local_midday_ms(day: date, zone: ZoneInfo) -> int:
    """Noon of `day` in `zone`: when a date-based notice (period ending) becomes due."""
    return int(datetime.combine(day, time(12, 0), tzinfo=zone).timestamp() * 1000)
