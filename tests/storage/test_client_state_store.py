"""The client-state store: a compare-and-swap on the version, one row per account."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from secure_msg.storage import client_state as store
from secure_msg.storage.migrations import migrate

A, B = b"\xa0" * 16, b"\xb0" * 16


def _conn(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)  # foreign keys off: no accounts needed
    migrate(conn)
    return conn


def test_swap_stores_only_over_the_version_it_was_based_on(tmp_path: Path) -> None:
    """The first write is based on 0; a write based on a version no longer stored changes
    nothing and reports the version that is; each account has its own row."""
    conn = _conn(tmp_path / "s.db")
    assert store.get_txn(conn, A) == store.StoredState(0, None)
    assert store.compare_and_swap_txn(conn, A, base_version=0, version=1, blob=b"one",
                                      now_ms=5) == store.SwapResult(True, 1)
    assert store.compare_and_swap_txn(conn, A, base_version=1, version=2, blob=b"two",
                                      now_ms=6) == store.SwapResult(True, 2)
    stale = store.compare_and_swap_txn(conn, A, base_version=1, version=3, blob=b"lost",
                                       now_ms=7)
    assert stale == store.SwapResult(False, 2)
    assert store.compare_and_swap_txn(conn, A, base_version=0, version=1, blob=b"lost",
                                      now_ms=8) == store.SwapResult(False, 2)
    assert store.get_txn(conn, A) == store.StoredState(2, b"two")
    assert store.get_txn(conn, B) == store.StoredState(0, None)
    assert conn.execute("SELECT updated_at_ms FROM client_state").fetchall() == [(6,)]


def test_version_zero_is_refused_by_the_schema(tmp_path: Path) -> None:
    """A stored version is at least 1, so 0 always means "nothing stored"."""
    conn = _conn(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError):
        store.compare_and_swap_txn(conn, A, base_version=0, version=0, blob=b"x", now_ms=1)
    assert store.get_txn(conn, A) == store.StoredState(0, None)
