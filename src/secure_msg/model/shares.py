"""Documents shared with someone outside the booklet (issue 17 item 3, docs/protocol.md §4.8):
the rules, without I/O.

A share is one file of a document entry, opened by a recipient without an account (the child's
doctor) with a link (its secret in the fragment, sent by the sharer's own e-mail or handed over)
and an SMS code (sent by the server). It is open until it expires, is withdrawn, has been opened
`max_opens` times, or has seen MAX_FAILURES wrong codes (then it locks for good).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from secure_msg.model.roles import Role

DAY_MS = 86_400_000
DEFAULT_DAYS = 14
MAX_DAYS = 30
DEFAULT_OPENS = 1
MAX_OPENS = 5
# Wrong codes before a share locks. A stranger holding the link guesses an 8-digit code with
# probability MAX_FAILURES / 10^8 before it does.
MAX_FAILURES = 5
# After an open the page fetches the blob with the same token; that fetch is allowed for this
# long and counts as the same open.
DOWNLOAD_WINDOW_MS = 15 * 60_000

# Who may share a booklet's document with an outsider. The therapist delivers the statement to
# the doctor (the practice's own journey); a guardian may hand their own child's documents to
# the child's doctor, as they could print and carry them. A caregiver (daycare, school) may
# not: their membership is a narrow, consented window, not a say over the record.
SHARER_ROLES = frozenset({Role.THERAPIST, Role.GUARDIAN})
# Who may withdraw any share of the booklet (besides its sharer).
REVOKER_ROLES = frozenset({Role.THERAPIST, Role.GUARDIAN})


class ShareState(StrEnum):
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOCKED = "locked"


@dataclass(frozen=True)
class Share:
    id: bytes
    booklet_id: bytes
    blob_id: bytes
    entry_seq: int
    sharer_id: bytes
    sealed: bytes
    verifier: bytes
    phone_hint: str
    created_at_ms: int
    expires_at_ms: int
    max_opens: int
    opens: int
    failures: int
    last_open_ms: int | None
    revoked_at_ms: int | None
    revoked_by: bytes | None

    def state(self, now_ms: int) -> ShareState:
        """Withdrawn first, then locked, expired and used: the first that applies."""
        if self.revoked_at_ms is not None:
            return ShareState.REVOKED
        if self.failures >= MAX_FAILURES:
            return ShareState.LOCKED
        if now_ms >= self.expires_at_ms:
            return ShareState.EXPIRED
        if self.opens >= self.max_opens:
            return ShareState.USED
        return ShareState.OPEN

    def in_download_window(self, now_ms: int) -> bool:
        """The blob may be fetched: opened lately, and neither withdrawn nor expired since."""
        return (self.last_open_ms is not None and now_ms - self.last_open_ms < DOWNLOAD_WINDOW_MS
                and self.revoked_at_ms is None and now_ms < self.expires_at_ms)

    @property
    def attempts_left(self) -> int:
        return max(MAX_FAILURES - self.failures, 0)


def phone_hint(phone: str) -> str:
    """What members see of the number the code went to: its last three digits."""
    return phone[-3:]
