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
from dataclasses import dataclass

ZERO_HASH = bytes(32)
# For one sequence, problems are reported in the spec table's order.
_ORDER = {"history-rewritten": 0, "chain-broken": 1, "entries-missing": 2}


@dataclass(frozen=True)
class Listed:
    seq: int
    prev_hash: bytes | None  # None when the envelope does not parse
    entry_hash: bytes


@dataclass(frozen=True)
class Checkpoint:
    seq: int
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
        return f"entry {self.seq} does not follow the entry before it"


def check(
    *, since: int, last_seq: int, joined_seq: int, checkpoint: Checkpoint | None,
    items: Sequence[Listed],
) -> tuple[list[Problem], Checkpoint | None]:
    """Problems of one read, and the checkpoint to keep after it."""
    counts = Counter(i.seq for i in items)
    # A sequence listed twice is a fork: reported once, and neither copy is a predecessor.
    hashes = {i.seq: i.entry_hash for i in items if counts[i.seq] == 1}
    problems = {Problem("chain-broken", s) for s, n in counts.items() if n > 1}
    if checkpoint is not None:
        listed = hashes.get(checkpoint.seq)
        if last_seq < checkpoint.seq or (listed is not None and listed != checkpoint.entry_hash):
            problems.add(Problem("history-rewritten", checkpoint.seq))
    for i in items:
        if counts[i.seq] > 1 or i.prev_hash is None:
            continue
        before = _predecessor(i.seq, hashes, checkpoint)
        if before is not None and before != i.prev_hash:
            problems.add(Problem("chain-broken", i.seq))
    problems.update(_missing(max(since, joined_seq) + 1, last_seq, set(counts)))
    ordered = sorted(problems, key=lambda p: (p.seq, _ORDER[p.code]))
    return ordered, _next_checkpoint(since, checkpoint, hashes, clean=not ordered)


def _predecessor(seq: int, hashes: dict[int, bytes], checkpoint: Checkpoint | None
                 ) -> bytes | None:
    if seq == 1:
        return ZERO_HASH
    if seq - 1 in hashes:
        return hashes[seq - 1]
    if checkpoint is not None and checkpoint.seq == seq - 1:
        return checkpoint.entry_hash
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


def _next_checkpoint(since: int, checkpoint: Checkpoint | None, hashes: dict[int, bytes],
                     *, clean: bool) -> Checkpoint | None:
    """Moves only after a clean read that could link to the old checkpoint."""
    if not clean or not hashes or (checkpoint is not None and since > checkpoint.seq):
        return checkpoint
    top = max(hashes)
    if checkpoint is not None and top <= checkpoint.seq:
        return checkpoint
    return Checkpoint(top, hashes[top])
