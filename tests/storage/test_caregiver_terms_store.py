"""Caregivers' terms in SQLite (schema 0013): the lifecycle table guards every status change,
and the probe that runs before membership reads uses its partial index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from secure_msg.model.caregiver_terms import Scope, TermsStatus
from secure_msg.storage import caregiver_terms as store
from secure_msg.storage.migrations import migrate

BOOKLET, THERAPIST, CAREGIVER = b"\xb0" * 16, b"\xa0" * 16, b"\xc0" * 16


def _db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)  # foreign keys off: no accounts needed
    migrate(conn)
    return conn


def test_only_the_lifecycles_moves_are_made(tmp_path: Path) -> None:
    conn = _db(tmp_path / "t.db")
    store.insert_terms_txn(conn, invitation_id=1, booklet_id=BOOKLET, until_ms=1_000,
                           scope=Scope.NEW, invited_by=THERAPIST, now_ms=1)
    assert not store.set_status_txn(conn, 1, TermsStatus.ACTIVE, 2)  # never without consent
    assert store.set_status_txn(conn, 1, TermsStatus.PENDING_CONSENT, 3, account_id=CAREGIVER)
    assert store.set_status_txn(conn, 1, TermsStatus.ACTIVE, 4)
    assert store.set_status_txn(conn, 1, TermsStatus.WITHDRAWN, 5)
    for again in (TermsStatus.ACTIVE, TermsStatus.EXPIRED, TermsStatus.PENDING_CONSENT):
        assert not store.set_status_txn(conn, 1, again, 6)  # withdrawn is final
    terms = store.latest_terms_txn(conn, BOOKLET, CAREGIVER)
    assert terms is not None
    assert (terms.status, terms.account_id, terms.changed_at_ms) == (
        TermsStatus.WITHDRAWN, CAREGIVER, 5)


def test_due_terms_are_found_by_the_index_not_a_scan(tmp_path: Path) -> None:
    conn = _db(tmp_path / "t.db")
    for i, status in enumerate(TermsStatus, start=1):
        store.insert_terms_txn(conn, invitation_id=i, booklet_id=BOOKLET, until_ms=100 + i,
                               scope=Scope.NEW, invited_by=THERAPIST, now_ms=1)
        conn.execute("UPDATE caregiver_terms SET status = ? WHERE id = ?", (status.value, i))
    assert not store.any_due_txn(conn, 100)
    assert store.any_due_txn(conn, 200)
    assert {t.status for t in store.due_txn(conn, 200)} == {
        TermsStatus.INVITED, TermsStatus.PENDING_CONSENT, TermsStatus.ACTIVE}
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT 1 FROM caregiver_terms WHERE status IN"  # noqa: S608
        f" ({store._OPEN}) AND until_ms <= ? LIMIT 1", (1,)).fetchall()
    assert "USING INDEX caregiver_terms_open" in str(plan)
