"""The clients' history check (docs/protocol.md §4.6): does what the server listed of a booklet
add up to one unbroken hash chain, with nothing left out that was sealed to me, and agree with
what this client saw before?

Pure: the caller gives what it parsed from the envelopes and the listing, and keeps the
checkpoint. The server checks the chain when it stores an entry; this check is what stops a
server from quietly dropping entries from one member's view or rewriting what they saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from secure_msg.crypto.client_state import StateCheckpoint

ZERO_HASH = bytes(32)
# For one sequence, problems are reported in the spec table's order.
_ORDER = {"history-rewritten": 0, "chain-broken": 1, "membership-restarted": 2,
          "entries-missing": 3}
# Reported, but a read with only this problem still moves the checkpoint: a re-invitation is
# honest, and repeating the warning on every read would teach people to ignore it.
_NOT_BLOCKING = {"membership-restarted"}


@dataclass(frozen=True)
class Listed:
    seq: int
    prev_hash: bytes | None  # None when the envelope does not parse
    entry_hash: bytes


@dataclass(frozen=True)
class Problem:
    code: str
    seq: int
    to: int | None = None  # the last sequence of an `entries-missing` run

    def to_json(self) -> dict[str, int | str | None]:
        """As in tests/vectors/history-v1.json."""
        if self.code == "entries-missing":
            return {"code": self.code, "from": self.seq, "to": self.to}
        return {"code": self.code, "seq": self.seq}

    def describe(self) -> str:
        if self.code == "entries-missing":
            if self.to == self.seq:
                return f"entry {self.seq} was sealed to you but the server left it out"
            return f"entries {self.seq}–{self.to} were sealed to you but the server left them out"
        if self.code == "history-rewritten":
            return f"entry {self.seq} is not the one this device saw before"
        if self.code == "membership-restarted":
            return (f"the server says you joined again at entry {self.seq}; if you were not "
                    "removed and invited back, entries may be hidden from you")
        return f"entry {self.seq} does not follow the entry before it"


def check(
    *, since: int, last_seq: int, joined_seq: int, checkpoint: StateCheckpoint | None,
    items: Sequence[Listed],
) -> tuple[list[Problem], StateCheckpoint | None]:
    """Problems of one read, and the checkpoint to keep after it (its `joined_seq` the
    reader's in the read that set it; `accepted` carried over)."""
    if checkpoint is not None:
        # Kept as hex: parsed and written again, it is lowercase as this device writes hashes,
        # even from a hand-edited profile.json (fromhex takes uppercase too).
        checkpoint = replace(checkpoint, entry_hash=bytes.fromhex(checkpoint.entry_hash).hex())
    counts = Counter(i.seq for i in items)
    # A sequence listed twice is a fork: reported once, and neither copy is a predecessor.
    hashes = {i.seq: i.entry_hash for i in items if counts[i.seq] == 1}
    problems = {Problem("chain-broken", s) for s, n in counts.items() if n > 1}
    if checkpoint is not None:
        copies = {i.entry_hash for i in items if i.seq == checkpoint.seq}
        if last_seq < checkpoint.seq or copies - {bytes.fromhex(checkpoint.entry_hash)}:
            problems.add(Problem("history-rewritten", checkpoint.seq))
        if joined_seq != checkpoint.joined_seq:
            problems.add(Problem("membership-restarted", joined_seq))
    for i in items:
        if counts[i.seq] > 1 or i.prev_hash is None:
            continue
        before = _predecessor(i.seq, hashes, checkpoint)
        if before is not None and before != i.prev_hash:
            problems.add(Problem("chain-broken", i.seq))
    problems.update(_missing(max(since, joined_seq) + 1, last_seq, set(counts)))
    ordered = sorted(problems, key=lambda p: (p.seq, _ORDER[p.code]))
    if any(p.code not in _NOT_BLOCKING for p in ordered):
        return ordered, checkpoint
    return ordered, _next_checkpoint(since, checkpoint, hashes, joined_seq)


def _predecessor(seq: int, hashes: dict[int, bytes], checkpoint: StateCheckpoint | None
                 ) -> bytes | None:
    if seq == 1:
        return ZERO_HASH
    if seq - 1 in hashes:
        return hashes[seq - 1]
    if checkpoint is not None and checkpoint.seq == seq - 1:
        return bytes.fromhex(checkpoint.entry_hash)
    return None


def _missing(first: int, last: int, listed: set[int]) -> list[Problem]:
    """Maximal runs in first..last that the listing leaves out (walking the listed sequences,
    not the range: `last` is the server's number)."""
    runs: list[Problem] = []
    expected = first
    for s in sorted(x for x in listed if first <= x <= last):
        if s > expected:
            runs.append(Problem("entries-missing", expected, s - 1))
        expected = s + 1
    if expected <= last:
        runs.append(Problem("entries-missing", expected, last))
    return runs


def _next_checkpoint(since: int, checkpoint: StateCheckpoint | None,
                     hashes: dict[int, bytes], joined_seq: int) -> StateCheckpoint | None:
    """After a clean read: the highest listed entry, if every link from the checkpoint (or
    from where the reader joined, when that is later) up to it was checked; else the old one."""
    top = max(hashes, default=0)
    if checkpoint is None:  # the first one only from a read of the whole history
        if not hashes or since != 0:
            return None
        return StateCheckpoint(top, hashes[top].hex(), joined_seq)
    base = max(checkpoint.seq, joined_seq)
    # `all` stops at the first gap, so a huge `top` from the server costs nothing
    if top > base and all(s in hashes for s in range(base + 1, top + 1)):
        return replace(checkpoint, seq=top, entry_hash=hashes[top].hex(), joined_seq=joined_seq)
    return replace(checkpoint, joined_seq=joined_seq)
