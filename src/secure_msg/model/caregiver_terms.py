"""A caregiver's (daycare, school) time-limited membership of a booklet and the guardians'
consent to it, as values and rules (issue 17 item 4; the signed record is docs/protocol.md §5.1).

Lifecycle (`TRANSITIONS`, drawn in docs/architecture.md):

    invited ──► pending_consent ──► active ──► expired | withdrawn
       │               └──► expired | withdrawn
       └──► expired

The invitation states until when and what the caregiver may read. Enrolling (or accepting the
link with an existing account) makes them `pending_consent`: not a member, no reader, no
recipient. They become a member (`active`) only once every current guardian's approval is
stored; any guardian's withdrawal, or the time `until`, ends it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from secure_msg.crypto import consent as protocol_consent
from secure_msg.errors import InvalidTransition


class TermsStatus(enum.StrEnum):
    INVITED = "invited"
    PENDING_CONSENT = "pending_consent"
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


_T = TermsStatus
TRANSITIONS: Mapping[TermsStatus, frozenset[TermsStatus]] = MappingProxyType({
    _T.INVITED: frozenset({_T.PENDING_CONSENT, _T.EXPIRED}),
    _T.PENDING_CONSENT: frozenset({_T.ACTIVE, _T.WITHDRAWN, _T.EXPIRED}),
    _T.ACTIVE: frozenset({_T.WITHDRAWN, _T.EXPIRED}),
    _T.WITHDRAWN: frozenset(),
    _T.EXPIRED: frozenset(),
})

# Statuses that the time `until` ends (the scheduler's sweep and the read path look for these).
OPEN = frozenset({_T.INVITED, _T.PENDING_CONSENT, _T.ACTIVE})


def check_transition(old: TermsStatus, new: TermsStatus) -> None:
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"The caregiver's membership is {old.value}.")


class Scope(enum.StrEnum):
    NEW = "new"  # entries posted while they are a member
    HISTORY = "history"  # also earlier ones, which a member grants (a history grant, §5)

    @property
    def wire(self) -> int:
        return protocol_consent.SCOPE_NEW if self is Scope.NEW else protocol_consent.SCOPE_HISTORY


PERIOD_END = "period-end"


@dataclass(frozen=True)
class CaregiverTerms:
    id: int  # the invitation's id: one set of terms per invitation
    booklet_id: bytes
    account_id: bytes | None  # set when the caregiver enrolls or accepts
    until_ms: int
    scope: Scope
    status: TermsStatus
    invited_by: bytes
    created_at_ms: int
    changed_at_ms: int


@dataclass(frozen=True)
class ConsentRow:
    terms_id: int
    guardian_id: bytes
    action: str  # approve or withdraw
    record: bytes
    created_at_ms: int


def end_of_day_ms(day: date, zone: ZoneInfo) -> int:
    """Until a date means to the end of that day where the practice is: its next midnight."""
    return int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).timestamp()
               * 1000)


def all_approved(guardians: set[bytes], approved: set[bytes]) -> bool:
    """Every current guardian's approval is stored. With no guardian at all nobody has
    consented, so a booklet without guardians never lets a caregiver in."""
    return bool(guardians) and guardians <= approved
