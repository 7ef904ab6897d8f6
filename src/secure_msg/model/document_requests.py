"""Document requests (issue 17, item 2): a guardian asks the therapist for a written document
(the statement for the doctor's evaluation visit, a therapy plan), the therapist sees the open
requests, and the document entry she posts names the request it fulfils.

Lifecycle (`TRANSITIONS`; storage/document_requests.py guards every status change with it):

    open ──document entry names it──► done
    open ──a guardian or the therapist withdraws it──► withdrawn

Done and withdrawn never change again: asking again is a new request. What the server holds
is metadata of the same sort as an appointment (docs/threat-model.md, "Document requests"):
which booklet, who asked, one of a few fixed kinds, when, an optional due date and the entry
that fulfilled it. Any words the family adds travel as an ordinary encrypted entry.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from secure_msg.errors import DocRequestNotOpen
from secure_msg.model.lifecycle import sources


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    WITHDRAWN = "withdrawn"


class RequestKind(enum.StrEnum):
    """What is asked for: a fixed list, never free text (the server sees it)."""

    STATEMENT = "statement"  # the therapy statement, e.g. for the doctor's evaluation visit
    PLAN = "plan"  # the therapy plan
    OTHER = "other"  # another written document; the family says which in an encrypted entry


_R = RequestStatus
# Written out, not computed, so that a new status has to be placed here on purpose.
TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = MappingProxyType({
    _R.OPEN: frozenset({_R.DONE, _R.WITHDRAWN}),
    _R.DONE: frozenset(),
    _R.WITHDRAWN: frozenset(),
})

# The entry kind that fulfils a request: 05 document (docs/protocol.md §4.3). Whether it is a
# plan or a statement is inside the encrypted payload; the server only checks the kind byte.
DOCUMENT_ENTRY_KIND = 5
# Open requests a booklet may have at once: far more than a family needs (a statement, a plan
# and a spare), few enough that no member can fill the therapist's desk.
MAX_OPEN_PER_BOOKLET = 10
# A due date is a plain calendar day; kept within the same sane range as appointments.
EARLIEST_DUE = date(2020, 1, 1)
LATEST_DUE = date(2100, 12, 31)


def can_move(old: RequestStatus, new: RequestStatus) -> bool:
    return new in TRANSITIONS[old]


def check_transition(old: RequestStatus, new: RequestStatus) -> None:
    """Raise DocRequestNotOpen (409) unless the lifecycle lets `old` become `new`."""
    if can_move(old, new):
        return
    needed = sorted(sources(TRANSITIONS, new))
    raise DocRequestNotOpen(f"The request is {old}, not {' or '.join(needed)}.")


def due_problem(due: date | None) -> str | None:
    """Why `due` cannot be a request's due date, or None."""
    if due is None or EARLIEST_DUE <= due <= LATEST_DUE:
        return None
    return f"due must be between {EARLIEST_DUE} and {LATEST_DUE}."


@dataclass(frozen=True)
class DocumentRequest:
    id: bytes
    booklet_id: bytes
    requester_id: bytes
    kind: RequestKind
    status: RequestStatus
    created_at_ms: int
    due: date | None
    done_by_entry_seq: int | None
    closed_by: bytes | None  # who fulfilled or withdrew it
    closed_at_ms: int | None
