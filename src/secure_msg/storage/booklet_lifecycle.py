"""Closing, retention and purge of booklets: the only SQL for `booklet_lifecycle`, and the
purge's deletes across every table that holds a booklet's rows.

Every status change is guarded by model/booklet_lifecycle.py TRANSITIONS: an UPDATE accepts
only the prior statuses the table lets become its target, so a second tick or a concurrent
close changes nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from secure_msg.model.appointments import AppointmentStatus
from secure_msg.model.booklet_lifecycle import (
    TRANSITIONS,
    BookletStatus,
    Lifecycle,
    check_writable,
)
from secure_msg.model.lifecycle import sources
from secure_msg.model.notices import TRANSITIONS as NOTICE_TRANSITIONS
from secure_msg.model.notices import NoticeStatus
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage.txn import Txn, is_sqlite

_COLUMNS = ("booklet_id, status, closed_by, closed_at_ms, purge_after_ms, reminded_at_ms,"
            " purged_at_ms")

# The tables that hold a booklet's rows, children before parents (foreign keys are on).
# A new table keyed by booklet_id belongs here, or the purge leaves it behind (tests/api/
# test_booklet_retention.py checks that no table still names a purged booklet).
BOOKLET_TABLES = ("join_proofs", "invitation_trust", "booklet_rosters", "shares", "blobs",
                  "document_requests", "entry_access", "receipts", "grants", "entries",
                  "members", "appointments", "periods", "notices", "caregiver_terms",
                  "invitations")
# Not blob_chunks (schema 0016, PostgreSQL's attachment bytes): up to a quota's worth of parts
# would be deleted under every writer's lock. The retention's blob hook deletes them right
# after the purge commits (storage/pg_blobs.py), and its orphan sweep any a crash left.
# Rows that reach a booklet only through a parent in BOOKLET_TABLES: deleted before it.
_BY_PARENT = {
    "caregiver_terms": ("DELETE FROM consent_records WHERE terms_id IN"
                        " (SELECT id FROM caregiver_terms WHERE booklet_id = ?)",
                        "consent_records"),
}


def _lifecycle(row: tuple[Any, ...]) -> Lifecycle:
    booklet_id, status, closed_by, closed_at, purge_after, reminded, purged = row
    return Lifecycle(booklet_id, BookletStatus(status), closed_by, closed_at, purge_after,
                     reminded, purged)


def _guard(new: BookletStatus) -> tuple[str, ...]:
    return tuple(sorted(s.value for s in sources(TRANSITIONS, new)))


def lifecycle_txn(conn: Txn, booklet_id: bytes) -> Lifecycle | None:
    """The booklet's lifecycle row; None while it is open."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM booklet_lifecycle WHERE booklet_id = ?",  # noqa: S608
                       (booklet_id,)).fetchone()
    return _lifecycle(row) if row else None


def status_txn(conn: Txn, booklet_id: bytes) -> BookletStatus:
    row = conn.execute("SELECT status FROM booklet_lifecycle WHERE booklet_id = ?",
                       (booklet_id,)).fetchone()
    return BookletStatus(row[0]) if row else BookletStatus.OPEN


def require_open_txn(conn: Txn, booklet_id: bytes) -> None:
    """Raise BookletClosed (409) unless the booklet takes writes. One indexed look-up: every
    write to a booklet calls it inside its own transaction, so a close cannot slip between."""
    check_writable(status_txn(conn, booklet_id))


def close_txn(conn: Txn, booklet_id: bytes, closed_by: bytes, now_ms: int,
              purge_after_ms: int) -> bool:
    """open → closed; False when the booklet is not open (already closed or purged)."""
    assert BookletStatus.OPEN in sources(TRANSITIONS, BookletStatus.CLOSED)
    cursor = conn.execute(
        "INSERT INTO booklet_lifecycle (booklet_id, status, closed_by, closed_at_ms,"
        " purge_after_ms) VALUES (?, 'closed', ?, ?, ?) ON CONFLICT (booklet_id) DO NOTHING",
        (booklet_id, closed_by, now_ms, purge_after_ms))
    return cursor.rowcount == 1


def cancel_future_appointments_txn(conn: Txn, booklet_id: bytes,
                                   now_ms: int) -> int:
    """Scheduled appointments from now on become cancelled_by_therapist (via "close"), through
    the appointments store so its lifecycle check applies; their queued reminders are then
    skipped by the outbox (services/outbox.skip_reason) and by `skip_queued_notices_txn`."""
    rows = conn.execute(
        "SELECT id FROM appointments WHERE booklet_id = ? AND status = 'scheduled'"
        " AND start_ms >= ?", (booklet_id, now_ms)).fetchall()
    for (appointment_id,) in rows:
        appointment_store.set_status_txn(conn, appointment_id,
                                         AppointmentStatus.CANCELLED_BY_THERAPIST, via="close",
                                         now_ms=now_ms)
    return len(rows)


def end_periods_txn(conn: Txn, booklet_id: bytes, today: date) -> int:
    """The therapy period ends today: its end date moves to today (never before its start),
    and every period-ending mark is recorded so that the scheduler queues none of them."""
    cursor = conn.execute(
        "UPDATE periods SET notified = '1m,2m,few',"
        " end_date = CASE WHEN start_date > ? THEN start_date ELSE ? END"
        " WHERE booklet_id = ? AND end_date >= ?",
        (today.isoformat(), today.isoformat(), booklet_id, today.isoformat()))
    return cursor.rowcount


def skip_queued_notices_txn(conn: Txn, booklet_id: bytes, now_ms: int) -> int:
    """Queued notices about the booklet (reminders, period ends, pings) are skipped, reason
    `booklet-closed`. A notice a worker holds (sending, ambiguous) finishes as it would."""
    assert NoticeStatus.QUEUED in sources(NOTICE_TRANSITIONS, NoticeStatus.SKIPPED)
    cursor = conn.execute(
        "UPDATE notices SET status = 'skipped', reason = 'booklet-closed', updated_at_ms = ?"
        " WHERE booklet_id = ? AND status = 'queued'", (now_ms, booklet_id))
    return cursor.rowcount


def revoke_invitations_txn(conn: Txn, booklet_id: bytes, now_ms: int) -> int:
    """Unused invitation links into the booklet stop working now (enroll and accept both
    check `expires_at_ms`)."""
    cursor = conn.execute(
        "UPDATE invitations SET expires_at_ms = ? WHERE booklet_id = ? AND used_at_ms IS NULL"
        " AND expires_at_ms > ?", (now_ms, booklet_id, now_ms))
    return cursor.rowcount


def reminders_due_txn(conn: Txn, now_ms: int,
                      lead_ms: int) -> list[Lifecycle]:
    """Closed booklets whose export reminder is due (`lead_ms` before their purge date)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM booklet_lifecycle WHERE status = 'closed'"  # noqa: S608
        " AND purge_after_ms <= ? ORDER BY purge_after_ms", (now_ms + lead_ms,)).fetchall()
    return [_lifecycle(r) for r in rows]


def purges_due_txn(conn: Txn, now_ms: int) -> list[Lifecycle]:
    """Booklets whose members were reminded and whose purge date has come."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM booklet_lifecycle WHERE status = 'purge_scheduled'"  # noqa: S608
        " AND purge_after_ms <= ? ORDER BY purge_after_ms", (now_ms,)).fetchall()
    return [_lifecycle(r) for r in rows]


def mark_reminded_txn(conn: Txn, booklet_id: bytes, now_ms: int,
                      purge_after_ms: int) -> bool:
    """closed → purge_scheduled with the purge date the reminder announced; False when another
    tick did it first."""
    guard = _guard(BookletStatus.PURGE_SCHEDULED)
    marks = ",".join("?" * len(guard))
    sql = ("UPDATE booklet_lifecycle SET status = 'purge_scheduled', reminded_at_ms = ?,"  # noqa: S608
           f" purge_after_ms = ? WHERE booklet_id = ? AND status IN ({marks})")
    cursor = conn.execute(sql, (now_ms, purge_after_ms, booklet_id, *guard))
    return cursor.rowcount == 1


@contextmanager
def secure_delete(conn: Txn) -> Iterator[None]:
    """Deleted and overwritten content is zeroed in the pages SQLite writes, for this block
    (the pragma is per connection, and may be set inside a transaction). PostgreSQL has no
    such switch: a deleted row stays in its page until VACUUM reuses the space."""
    if not is_sqlite(conn):
        yield
        return
    conn.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        conn.execute("PRAGMA secure_delete = OFF")


def purge_txn(conn: Txn, booklet_id: bytes, now_ms: int) -> dict[str, int] | None:
    """purge_scheduled → purged: delete every row of the booklet, with secure_delete on, and
    keep the lifecycle row as the tombstone. Returns rows deleted per table, or None when the
    booklet was not due (another tick purged it). The WAL still holds the old pages until a
    checkpoint: see `checkpoint_truncate`."""
    guard = _guard(BookletStatus.PURGED)
    marks = ",".join("?" * len(guard))
    sql = ("UPDATE booklet_lifecycle SET status = 'purged', purged_at_ms = ?"  # noqa: S608
           f" WHERE booklet_id = ? AND status IN ({marks})")
    with secure_delete(conn):
        cursor = conn.execute(sql, (now_ms, booklet_id, *guard))
        if cursor.rowcount != 1:
            return None
        deleted = {}
        for table in BOOKLET_TABLES:
            if table in _BY_PARENT:
                child_sql, child = _BY_PARENT[table]
                deleted[child] = conn.execute(child_sql, (booklet_id,)).rowcount
            deleted[table] = conn.execute(
                f"DELETE FROM {table} WHERE booklet_id = ?", (booklet_id,)).rowcount  # noqa: S608
        deleted["booklets"] = conn.execute("DELETE FROM booklets WHERE id = ?",
                                           (booklet_id,)).rowcount
    return deleted


def tables_naming_txn(conn: Txn, booklet_id: bytes) -> list[str]:
    """Tables (other than the lifecycle tombstone) that still have a row of the booklet, by
    name: for tests and the admin's check after a purge."""
    found = []
    for name, columns in _table_columns(conn).items():
        if name == "booklet_lifecycle":
            continue
        for column in ("booklet_id", "id") if name == "booklets" else ("booklet_id",):
            if column in columns and conn.execute(
                    f"SELECT 1 FROM {name} WHERE {column} = ? LIMIT 1",  # noqa: S608
                    (booklet_id,)).fetchone():
                found.append(name)
    return sorted(found)


def _table_columns(conn: Txn) -> dict[str, set[str]]:
    """Every table's column names, from the dialect's catalogue."""
    if is_sqlite(conn):
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: {r[1] for r in conn.execute(f"PRAGMA table_info({name})")}
                for name in names}
    tables: dict[str, set[str]] = {}
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema()"):
        tables.setdefault(table, set()).add(column)
    return tables


def all_txn(conn: Txn) -> list[Lifecycle]:
    """Every closed, scheduled and purged booklet, soonest purge first (admin retention)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM booklet_lifecycle ORDER BY status = 'purged',"  # noqa: S608
        " purge_after_ms").fetchall()
    return [_lifecycle(r) for r in rows]


def checkpoint_truncate(path: Path, *, attempts: int = 50, pause: float = 0.05) -> bool:
    """Copy every WAL frame into the database file and truncate the WAL to zero bytes, so the
    frames that held purged pages are gone from disk. A reader in the middle of a snapshot
    makes a checkpoint stop short (busy): it is tried again for a while. Returns True once the
    WAL was truncated. Runs on its own short-lived connection, outside any transaction, in a
    thread (it may wait)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 1000")
        for _ in range(attempts):
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy == 0:
                return True
            time.sleep(pause)
        return False
    finally:
        conn.close()
