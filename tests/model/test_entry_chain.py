"""The server-side entry chain check (model/entry_chain.py): a sound chain passes, and each way
a stored chain can break is named at the entry where it shows."""

from __future__ import annotations

import os

import pytest

from secure_msg.crypto import envelope, keys
from secure_msg.model.entry_chain import chain_problems

BOOKLET = os.urandom(16)


def _chain(n: int) -> list[tuple[int, bytes, bytes]]:
    author = keys.AccountKeys.generate(os.urandom(16))
    prev, out = envelope.ZERO_HASH, []
    for seq in range(1, n + 1):
        sealed = envelope.seal_entry(
            author, booklet_id=BOOKLET, entry_id=os.urandom(16), kind=2, sequence=seq,
            prev_hash=prev, created_at=1_700_000_000_000 + seq, plaintext=b"note",
            recipients=[(author.account_id, author.encryption_public)])
        prev = envelope.entry_hash(sealed)
        out.append((seq, prev, sealed))
    return out


CHAIN = _chain(4)
GARBAGE = CHAIN[1][2][:200]  # the prefix and header of an entry, its body cut off


def _reasons(entries: list[tuple[int, bytes, bytes]], last_seq: int = 4,
             last_hash: bytes | None = None) -> list[tuple[int, str]]:
    head = CHAIN[-1][1] if last_hash is None else last_hash
    return [(p.seq, p.reason) for p in chain_problems(BOOKLET, last_seq, head, entries)]


def test_a_sound_chain_and_an_empty_booklet_pass() -> None:
    assert _reasons(CHAIN) == []
    assert chain_problems(BOOKLET, 0, envelope.ZERO_HASH, []) == []


@pytest.mark.parametrize(("entries", "expected"), [
    ([CHAIN[0], CHAIN[2], CHAIN[3]], (3, "expected entry 2 (missing or out of order)")),
    ([CHAIN[0], (2, CHAIN[1][1], CHAIN[2][2]), CHAIN[2], CHAIN[3]],
     (2, "the stored hash is not the envelope's")),
    ([CHAIN[0], (2, CHAIN[1][1], CHAIN[1][2][:-1]), CHAIN[2], CHAIN[3]],
     (2, "the stored hash is not the envelope's")),
    ([CHAIN[0], (2, CHAIN[2][1], CHAIN[2][2]), CHAIN[2], CHAIN[3]],
     (2, "the envelope says sequence 3")),
    ([CHAIN[0], (2, envelope.entry_hash(GARBAGE), GARBAGE), CHAIN[2], CHAIN[3]],
     (2, "the envelope does not parse (truncated)")),
])
def test_a_broken_link_is_named_where_it_shows(
    entries: list[tuple[int, bytes, bytes]], expected: tuple[int, str],
) -> None:
    assert _reasons(entries) == [expected]


def test_an_envelope_naming_another_predecessor_is_found() -> None:
    other = _chain(2)  # a sound chain of its own: its entry 2 names its own entry 1
    assert _reasons([CHAIN[0], other[1]], last_seq=2, last_hash=other[1][1]) == [
        (2, "the envelope does not name the previous entry's hash")]


def test_a_head_that_does_not_name_the_newest_entry_is_found() -> None:
    assert _reasons(CHAIN[:3]) == [(0, "names entry 4, the chain ends at 3")]
    assert _reasons(CHAIN, last_hash=CHAIN[2][1]) == [(0, "its hash is not the newest entry's")]
