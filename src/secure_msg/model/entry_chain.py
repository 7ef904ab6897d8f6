"""Whether a booklet's stored entries still form its hash chain (docs/protocol.md §4.6), checked
from the server's side: for the service manager after moving the database (`secure-msg admin
migrate-to-postgresql`), where a lost, reordered or altered row must be found before the first
member's client finds it.

The server checks what it can without keys: sequences 1, 2, 3… without gaps, each envelope's
header naming its own sequence and the previous entry's hash, each stored `entry_hash` being
the hash of the stored envelope, and the booklet's head (`last_seq`, `last_hash`) naming the
newest entry. Signatures and contents are the members' clients' to check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from secure_msg.crypto import envelope
from secure_msg.crypto.errors import ProtocolError


@dataclass(frozen=True)
class ChainProblem:
    booklet_id: bytes
    seq: int  # the entry where it shows; 0 for the booklet's head
    reason: str

    def __str__(self) -> str:
        where = f"entry {self.seq}" if self.seq else "its head"
        return f"booklet {self.booklet_id.hex()}: {where}: {self.reason}"


def chain_problems(booklet_id: bytes, last_seq: int, last_hash: bytes,
                   entries: Iterable[tuple[int, bytes, bytes]]) -> list[ChainProblem]:
    """The problems of one booklet's chain, given its head and its entries as (seq,
    entry_hash, envelope) in sequence order; the first problem in the chain ends the walk."""
    prev, expected = envelope.ZERO_HASH, 1
    for seq, stored_hash, sealed in entries:
        reason = _entry_problem(seq, expected, prev, stored_hash, bytes(sealed))
        if reason:
            return [ChainProblem(booklet_id, seq, reason)]
        prev, expected = stored_hash, expected + 1
    if last_seq != expected - 1 or last_hash != prev:
        return [ChainProblem(booklet_id, 0, f"names entry {last_seq}, the chain ends at "
                             f"{expected - 1}" if last_seq != expected - 1
                             else "its hash is not the newest entry's")]
    return []


def _entry_problem(seq: int, expected: int, prev: bytes, stored_hash: bytes,
                   sealed: bytes) -> str:
    if seq != expected:
        return f"expected entry {expected} (missing or out of order)"
    if envelope.entry_hash(sealed) != stored_hash:
        return "the stored hash is not the envelope's"
    try:
        header = envelope.parse_envelope(sealed).header
    except ProtocolError as exc:
        return f"the envelope does not parse ({exc})"
    if header.sequence != seq:
        return f"the envelope says sequence {header.sequence}"
    if header.prev_hash != prev:
        return "the envelope does not name the previous entry's hash"
    return ""
