"""Every booklet's entry chain, checked in one read transaction (model/entry_chain.py says what
is checked). Both dialects: bytea and BLOB sort bytewise alike, so one ORDER BY walks each
booklet's entries in sequence."""

from __future__ import annotations

import itertools

from secure_msg.model.entry_chain import ChainProblem, chain_problems
from secure_msg.storage.txn import Txn


def entry_chain_problems_txn(conn: Txn) -> tuple[int, list[ChainProblem]]:
    """(booklets checked, the problems found: at most one per booklet)."""
    heads = {bytes(r[0]): (int(r[1]), bytes(r[2])) for r in conn.execute(
        "SELECT id, last_seq, last_hash FROM booklets")}
    rows = conn.execute(
        "SELECT booklet_id, seq, entry_hash, envelope FROM entries ORDER BY booklet_id, seq")
    problems: list[ChainProblem] = []
    seen: set[bytes] = set()
    for key, group in itertools.groupby(rows, key=lambda r: bytes(r[0])):
        seen.add(key)
        last_seq, last_hash = heads.get(key, (0, b""))
        problems += chain_problems(key, last_seq, last_hash,
                                   ((int(r[1]), bytes(r[2]), bytes(r[3])) for r in group))
    for booklet_id in heads.keys() - seen:  # no entries at all: the head must say so
        last_seq, last_hash = heads[booklet_id]
        problems += chain_problems(booklet_id, last_seq, last_hash, ())
    return len(heads), problems
