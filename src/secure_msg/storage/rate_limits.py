"""Failed attempts counted in the database, so that every process on it sees the same counts
(services/shared_limits.py holds the rules). Keys arrive already hashed with a server key:
no login name, address or phone number is stored in clear. Times are wall-clock milliseconds,
since each process's monotonic clock has its own origin."""

from __future__ import annotations

from secure_msg.storage.txn import Txn


def times_txn(conn: Txn, scope: str, key_hash: bytes, since_ms: int) -> list[int]:
    """The key's failures after `since_ms`, oldest first."""
    return [r[0] for r in conn.execute(
        "SELECT at_ms FROM rate_limit_failures WHERE scope = ? AND key_hash = ? AND at_ms > ?"
        " ORDER BY at_ms", (scope, key_hash, since_ms))]


def add_txn(conn: Txn, scope: str, key_hash: bytes, at_ms: int, expires_ms: int) -> None:
    conn.execute(
        "INSERT INTO rate_limit_failures (scope, key_hash, at_ms, expires_ms) VALUES (?, ?, ?, ?)",
        (scope, key_hash, at_ms, expires_ms))


def remove_one_txn(conn: Txn, scope: str, key_hash: bytes, at_ms: int) -> None:
    """Forget one failure at `at_ms` (two at the same millisecond are interchangeable)."""
    conn.execute(
        "DELETE FROM rate_limit_failures WHERE id = (SELECT id FROM rate_limit_failures"
        " WHERE scope = ? AND key_hash = ? AND at_ms = ? LIMIT 1)", (scope, key_hash, at_ms))


def clear_txn(conn: Txn, scope: str, key_hash: bytes) -> None:
    conn.execute("DELETE FROM rate_limit_failures WHERE scope = ? AND key_hash = ?",
                 (scope, key_hash))


def expire_txn(conn: Txn, now_ms: int) -> int:
    """Delete every failure whose window has passed; returns how many."""
    return conn.execute("DELETE FROM rate_limit_failures WHERE expires_ms <= ?",
                        (now_ms,)).rowcount


def count_txn(conn: Txn) -> int:
    return int(conn.execute("SELECT count(*) FROM rate_limit_failures").fetchone()[0])
