"""A booklet's access log: which audit events its members see, and how a read is recorded.

The access log is a view of the audit chain (model/audit.py), not a second store: the events
whose target is "booklet:<id>" and whose action is in MEMBER_VISIBLE. Refusals (a non-member's
fetch, a member's entry the server refused) stay out of it and in the operator's audit only.

A page read is one event, not one per entry: `entries.fetched` with detail
{"from", "to", "count", "ranges"}, where ranges is "1-5,8,10-12" (the seqs returned; a member
may lack keys for some entries in between). Audit details are capped (MAX_DETAIL_BYTES), so a
page whose ranges would not fit is split into several events, each naming its own part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum


class Access(StrEnum):
    """Audit actions about a booklet that its members are shown."""

    BOOKLET_CREATED = "booklet.created"
    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    MEMBER_REMOVED = "member.removed"
    HISTORY_GRANTED = "history.granted"
    ENTRY_POSTED = "entry.posted"
    ENTRIES_FETCHED = "entries.fetched"
    # A document's blob was downloaded (issue 17 item 1; services.access_log.record_blob_read).
    BLOB_FETCHED = "blob.fetched"
    # A document shared with someone outside the booklet (item 3): made, opened, revoked.
    SHARE_CREATED = "share.created"
    SHARE_OPENED = "share.opened"
    SHARE_REVOKED = "share.revoked"
    # A member says they exported the booklet or its access log (item 6).
    EXPORTED = "booklet.exported"
    # A guardian asked for a document; the therapist's document entry fulfilled it, or a
    # guardian or the therapist withdrew it (item 2; services/document_request_service.py).
    DOCUMENT_REQUESTED = "document_request.created"
    DOCUMENT_REQUEST_DONE = "document_request.done"
    DOCUMENT_REQUEST_WITHDRAWN = "document_request.withdrawn"
    # A caregiver's membership (item 4, docs/protocol.md §5.1): each guardian's signed consent
    # or withdrawal, and the end at the terms' date (actor "system").
    CONSENT_APPROVED = "consent.approved"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    MEMBER_EXPIRED = "member.expired"


class Refusal(StrEnum):
    """Audit actions about a booklet kept for the operator only."""

    FETCH_REFUSED = "entries.fetch_refused"  # an account that is not a member asked for entries
    SHARE_OPEN_REFUSED = "share.open_refused"  # a wrong code, an expired or revoked share


MEMBER_VISIBLE: frozenset[str] = frozenset(Access)


class ExportKind(StrEnum):
    BOOKLET = "booklet"  # the patient-record archive (item 6)
    ACCESS_LOG = "access-log"  # this log as CSV or JSON


# The ranges string of one event stays well under the audit's detail cap (1024 bytes) with
# the other keys ({"from","to","count"}, ≈ 60 bytes).
MAX_RANGES_CHARS = 900


def booklet_target(booklet_id: bytes) -> str:
    return f"booklet:{booklet_id.hex()}"


def _runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _run_text(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def fetch_details(
    seqs: Sequence[int], *, max_chars: int = MAX_RANGES_CHARS
) -> list[dict[str, int | str]]:
    """The detail of each `entries.fetched` event for one page: usually one; more only when
    the page's ranges do not fit one event's detail."""
    if seqs and len(seqs) == len(set(seqs)) == max(seqs) - min(seqs) + 1:
        # The usual page, every entry in a row: one run, found in C (≈ 2 µs, not ≈ 8).
        first, last = min(seqs), max(seqs)
        return [{"from": first, "to": last, "count": len(seqs),
                 "ranges": _run_text(first, last)}]
    parts: list[list[tuple[int, int]]] = [[]]
    length = 0
    for run in _runs(seqs):
        piece = len(_run_text(*run)) + 1
        if parts[-1] and length + piece > max_chars:
            parts.append([])
            length = 0
        parts[-1].append(run)
        length += piece
    out: list[dict[str, int | str]] = []
    for runs in parts:
        if not runs:
            continue
        out.append({
            "from": runs[0][0], "to": runs[-1][1],
            "count": sum(last - first + 1 for first, last in runs),
            "ranges": ",".join(_run_text(*r) for r in runs),
        })
    return out


def parse_ranges(text: str) -> list[int]:
    """The seqs of a ranges string (for clients and tests); ValueError when malformed."""
    seqs: list[int] = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        a, b = int(first), int(last if dash else first)
        if a < 1 or b < a:
            raise ValueError(f"bad range {part!r}")
        seqs.extend(range(a, b + 1))
    return seqs
