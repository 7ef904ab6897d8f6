"""The scheduler tick on a real database file: the period scan runs as a read, and the write
transactions (which hold the write lock every post waits for) touch only what is due, exactly
once."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from secure_msg.clock import FixedClock
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.model.accounts import NewAccount
from secure_msg.model.appointments import (
    Appointment,
    AppointmentStatus,
    Payer,
    Period,
    QuietHours,
)
from secure_msg.model.notice_templates import NoticeRenderer
from secure_msg.model.roles import Role
from secure_msg.services import scheduler
from secure_msg.services.appointment_service import AppointmentDeps
from secure_msg.services.notice_service import NoticeDeps
from secure_msg.storage import accounts as account_store
from secure_msg.storage import appointments as store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage.db import Database

LEAD_MS = 24 * 3_600_000
FEW = 3
NOW = FixedClock().now_ms()  # 2026-01-01T00:00Z; the 2-month stage of a period ending
DUE_END = date(2026, 2, 20)  # 20 February was due on 20 December
LATER_END = date(2026, 12, 31)  # far off: nothing due


def _account(conn: sqlite3.Connection, vault: Vault, role: Role, phone: str | None) -> bytes:
    account_id = os.urandom(16)
    account_store.insert_account_txn(conn, vault, NewAccount(
        account_id, role, account_id.hex(), None, phone, None, "fi", b"s" * 16, 600_000,
        b"v", b"v", b"b", b"b", b"st", b"i" * 32, b"e" * 32), NOW)
    return account_id


async def _practice(db: Database, vault: Vault) -> tuple[bytes, bytes]:
    """A therapist and a booklet with one guardian who has a phone: (therapist, booklet)."""

    def txn(conn: sqlite3.Connection) -> tuple[bytes, bytes]:
        therapist = _account(conn, vault, Role.THERAPIST, None)
        booklet = os.urandom(16)
        booklet_store.insert_booklet_txn(conn, booklet, therapist, NOW)
        booklet_store.add_member_txn(conn, booklet, therapist, Role.THERAPIST, NOW)
        guardian = _account(conn, vault, Role.GUARDIAN, "+358401112222")
        booklet_store.add_member_txn(conn, booklet, guardian, Role.GUARDIAN, NOW)
        return therapist, booklet

    return await db.write(txn)


async def _periods(db: Database, booklet: bytes, end: date, n: int) -> list[Period]:
    periods = [Period(os.urandom(16), booklet, date(2025, 1, 1), end, 40, Payer.KELA)
               for _ in range(n)]

    def txn(conn: sqlite3.Connection) -> None:
        for p in periods:
            store.insert_period_txn(conn, p, NOW)

    await db.write(txn)
    return periods


@pytest.fixture
def deps(db: Database, vault: Vault, clock: FixedClock) -> AppointmentDeps:
    quiet = QuietHours.parse("Europe/Helsinki", "21:00", "08:00")
    return AppointmentDeps(NoticeDeps(db, vault, clock, system_rng, NoticeRenderer.load(),
                                      quiet, "https://msg.example.fi"), 24, True)


def _trace_writes(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the scheduler's write functions execute (on the loop), in order."""
    statements: list[str] = []
    real_write = db.write

    async def write(fn: Callable[[sqlite3.Connection], Any], **kwargs: Any) -> Any:
        def traced(conn: sqlite3.Connection) -> Any:
            conn.set_trace_callback(statements.append)
            try:
                return fn(conn)
            finally:
                conn.set_trace_callback(None)

        return await real_write(traced, **kwargs)

    monkeypatch.setattr(db, "write", write)
    return statements


async def _notice_keys(db: Database) -> list[str]:
    rows = await db.read(lambda c: c.execute(
        "SELECT dedupe_key FROM notices ORDER BY id").fetchall())
    return [str(r[0]) for r in rows]


async def _marks(db: Database, period: Period) -> str:
    row = await db.read(lambda c: c.execute(
        "SELECT notified FROM periods WHERE id = ?", (period.id,)).fetchone())
    return str(row[0])


@pytest.mark.sqlite_only("counts statements with SQLite's trace callback")
async def test_write_phase_touches_only_due_periods_not_every_open_one(
    db: Database, vault: Vault, deps: AppointmentDeps, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """300 open periods, none due: no statement runs in a write; one due: the same few
    statements as with no others open."""
    _, booklet = await _practice(db, vault)
    await _periods(db, booklet, LATER_END, 300)
    statements = _trace_writes(db, monkeypatch)
    assert await scheduler.run_once(deps, LEAD_MS, FEW) == 0
    assert statements == []
    (due,) = await _periods(db, booklet, DUE_END, 1)
    assert await scheduler.run_once(deps, LEAD_MS, FEW) == 1
    assert 0 < len(statements) <= 10, statements
    assert not any("end_date >=" in s for s in statements)  # no scan of open periods
    assert await _marks(db, due) == "2m"
    statements.clear()
    assert await scheduler.run_once(deps, LEAD_MS, FEW) == 0
    assert statements == []


async def test_a_stale_snapshot_queues_each_notice_once(
    db: Database, vault: Vault, deps: AppointmentDeps, clock: FixedClock,
) -> None:
    """Another tick between this tick's read and write: its marks and reminder flags win, a
    stage it did not record still goes, and an appointment cancelled meanwhile gets none."""
    therapist, booklet = await _practice(db, vault)
    stale_period, partly, cancelled_too = await _periods(db, booklet, DUE_END, 3)
    soon = Appointment(os.urandom(16), booklet, therapist, NOW + 3_600_000, 45,
                       AppointmentStatus.SCHEDULED, "1234", False, None)
    later = Appointment(os.urandom(16), booklet, therapist, NOW + 7_200_000, 45,
                        AppointmentStatus.SCHEDULED, "5678", False, None)

    def setup(conn: sqlite3.Connection) -> None:
        store.insert_appointment_txn(conn, soon, NOW)
        store.insert_appointment_txn(conn, later, NOW)

    await db.write(setup)
    snapshot = await db.read(lambda c: scheduler.find_due_txn(c, deps, NOW, LEAD_MS, FEW))
    assert {a.id for a in snapshot.reminders} == {soon.id, later.id}
    # Pretend the snapshot also saw the 1-month stage as due for `partly`.
    periods = [(p, ["2m", "1m"] if p == partly else marks) for p, marks in snapshot.periods]
    assert {p.id for p, _ in periods} == {stale_period.id, partly.id, cancelled_too.id}

    def meanwhile(conn: sqlite3.Connection) -> None:
        for p in (stale_period, partly, cancelled_too):
            assert store.add_period_mark_txn(conn, p.id, "2m")
        assert store.mark_reminded_txn(conn, soon.id)
        assert store.set_status_txn(conn, later.id, AppointmentStatus.CANCELLED_BY_THERAPIST,
                                    now_ms=NOW)

    await db.write(meanwhile)
    assert await db.write(lambda c: scheduler.queue_reminders_txn(
        c, deps, snapshot.reminders, NOW, LEAD_MS)) == 0
    assert await db.write(lambda c: scheduler.queue_period_notices_txn(
        c, deps, periods, NOW)) == 1
    assert [k.rsplit(":", 1)[0] for k in await _notice_keys(db)] == [
        f"period:{partly.id.hex()}:1m"]
    assert await _marks(db, partly) == "1m,2m"
    assert await _marks(db, stale_period) == "2m"
    # A fresh tick finds nothing left: no second notice for any of them.
    assert await scheduler.run_once(deps, LEAD_MS, FEW) == 0
