"""Booklet storage queries that take a list of values: more values than one statement may bind."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from secure_msg.model.booklets import StoredEntry
from secure_msg.storage import booklets as store
from secure_msg.storage.migrations import migrate

BOOKLET = b"\xb0" * 16
COUNT = 1_234  # three chunks of the 500 values bound per statement


def _booklet_with_entries(path: Path) -> tuple[sqlite3.Connection, list[StoredEntry]]:
    conn = sqlite3.connect(path, isolation_level=None)  # foreign keys off: no accounts needed
    migrate(conn)
    store.insert_booklet_txn(conn, BOOKLET, b"\xa0" * 16, 1)
    entries = [
        StoredEntry(BOOKLET, seq, os.urandom(16), b"\xa0" * 16, 2, seq, seq, os.urandom(32),
                    os.urandom(40))
        for seq in range(1, COUNT + 1)
    ]
    conn.execute("BEGIN")
    for entry in entries:
        assert store.insert_entry_txn(conn, entry, [], text="{}")
    conn.execute("COMMIT")
    return conn, entries


def test_entries_and_hashes_by_the_thousand(tmp_path: Path) -> None:
    """Every one of 1,234 entries comes back by sequence and by id, unknown ids are left out."""
    conn, entries = _booklet_with_entries(tmp_path / "b.db")
    by_seq = store.entries_at_txn(conn, BOOKLET, [e.seq for e in entries])
    assert by_seq == {e.seq: e for e in entries}
    ids = [e.entry_id for e in entries] + [b"\x00" * 16]
    assert store.entry_hashes_txn(conn, BOOKLET, ids) == {
        e.entry_id: (e.seq, e.entry_hash) for e in entries}
    assert store.entries_at_txn(conn, b"\xb1" * 16, [1, 2]) == {}
