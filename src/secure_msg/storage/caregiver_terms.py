"""Caregivers' terms and the guardians' consent records (schema 0013): the only SQL for them."""

from __future__ import annotations

from typing import Any

from secure_msg.model.caregiver_terms import (
    OPEN,
    TRANSITIONS,
    CaregiverTerms,
    ConsentRow,
    Scope,
    TermsStatus,
)
from secure_msg.model.lifecycle import sources
from secure_msg.storage.txn import Txn

_COLUMNS = ("id, booklet_id, account_id, until_ms, scope, status, invited_by, created_at_ms,"
            " changed_at_ms")
# Written exactly as the partial index caregiver_terms_open (schema 0013) says it: SQLite uses
# a partial index only for a WHERE that repeats its condition, in the same order. Otherwise the
# probe on every membership read scans the table (≈ 0.5 ms at 1,000 terms instead of µs).
_OPEN = "'invited', 'pending_consent', 'active'"
assert {v.strip("' ") for v in _OPEN.split(",")} == {s.value for s in OPEN}


def _terms(row: tuple[Any, ...]) -> CaregiverTerms:
    i, booklet, account, until, scope, status, by, created, changed = row
    return CaregiverTerms(i, booklet, account, until, Scope(scope), TermsStatus(status), by,
                          created, changed)


def insert_terms_txn(
    conn: Txn, *, invitation_id: int, booklet_id: bytes, until_ms: int,
    scope: Scope, invited_by: bytes, now_ms: int,
) -> None:
    conn.execute(
        f"INSERT INTO caregiver_terms ({_COLUMNS}) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (invitation_id, booklet_id, until_ms, scope.value, TermsStatus.INVITED.value,
         invited_by, now_ms, now_ms),
    )


def get_terms_txn(conn: Txn, terms_id: int) -> CaregiverTerms | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM caregiver_terms WHERE id = ?", (terms_id,)  # noqa: S608
    ).fetchone()
    return _terms(row) if row else None


def latest_terms_txn(
    conn: Txn, booklet_id: bytes, account_id: bytes
) -> CaregiverTerms | None:
    """The caregiver's newest terms in the booklet (a re-invitation states new ones)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM caregiver_terms"  # noqa: S608
        " WHERE booklet_id = ? AND account_id = ? ORDER BY id DESC LIMIT 1",
        (booklet_id, account_id),
    ).fetchone()
    return _terms(row) if row else None


def booklet_terms_txn(conn: Txn, booklet_id: bytes) -> list[CaregiverTerms]:
    """Every caregiver's terms in the booklet once they enrolled, newest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM caregiver_terms"  # noqa: S608
        " WHERE booklet_id = ? AND account_id IS NOT NULL ORDER BY id DESC",
        (booklet_id,),
    ).fetchall()
    return [_terms(r) for r in rows]


def set_status_txn(
    conn: Txn, terms_id: int, new: TermsStatus, now_ms: int,
    *, account_id: bytes | None = None,
) -> bool:
    """Move the terms to `new` from a status the lifecycle allows (and bind the caregiver's
    account when it is given); False, with nothing changed, from any other status."""
    allowed = ", ".join(f"'{s.value}'" for s in sorted(sources(TRANSITIONS, new)))
    cursor = conn.execute(
        "UPDATE caregiver_terms SET status = ?, changed_at_ms = ?,"  # noqa: S608
        f" account_id = COALESCE(?, account_id) WHERE id = ? AND status IN ({allowed})",
        (new.value, now_ms, account_id, terms_id),
    )
    return cursor.rowcount == 1


def due_txn(conn: Txn, now_ms: int) -> list[CaregiverTerms]:
    """Open terms whose time is up, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM caregiver_terms"  # noqa: S608
        f" WHERE status IN ({_OPEN}) AND until_ms <= ? ORDER BY until_ms",
        (now_ms,),
    ).fetchall()
    return [_terms(r) for r in rows]


def any_due_txn(conn: Txn, now_ms: int) -> bool:
    """One indexed probe (caregiver_terms_open), cheap enough for every membership read."""
    row = conn.execute(
        f"SELECT 1 FROM caregiver_terms WHERE status IN ({_OPEN})"  # noqa: S608
        " AND until_ms <= ? LIMIT 1",
        (now_ms,),
    ).fetchone()
    return row is not None


def insert_consent_txn(conn: Txn, row: ConsentRow) -> bool:
    """Store a verified record; False when this guardian already signed this action."""
    cursor = conn.execute(
        "INSERT INTO consent_records (terms_id, guardian_id, action, record, created_at_ms)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (row.terms_id, row.guardian_id, row.action, row.record, row.created_at_ms),
    )
    return cursor.rowcount == 1


def consents_txn(conn: Txn, terms_id: int) -> list[ConsentRow]:
    rows = conn.execute(
        "SELECT terms_id, guardian_id, action, record, created_at_ms FROM consent_records"
        " WHERE terms_id = ? ORDER BY created_at_ms, guardian_id",
        (terms_id,),
    ).fetchall()
    return [ConsentRow(*r) for r in rows]


def guardian_keys_txn(conn: Txn, booklet_id: bytes) -> dict[bytes, bytes]:
    """{account id: identity key} of the booklet's current guardians."""
    rows = conn.execute(
        "SELECT m.account_id, a.identity_key FROM members m JOIN accounts a ON a.id = m.account_id"
        " WHERE m.booklet_id = ? AND m.role = 'guardian' AND m.removed_at_ms IS NULL",
        (booklet_id,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}

