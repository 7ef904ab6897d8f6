"""The appointment store writes only the moves the lifecycle table allows: every (old, new) pair
through `set_status_txn` on a real database file."""

from __future__ import annotations

import os
import sqlite3
from itertools import product
from typing import Any

import pytest

from secure_msg.clock import FixedClock
from secure_msg.crypto.vault import Vault
from secure_msg.errors import InvalidTransition
from secure_msg.model.accounts import NewAccount
from secure_msg.model.appointments import TRANSITIONS, Appointment, AppointmentStatus
from secure_msg.model.roles import Role
from secure_msg.storage import accounts as account_store
from secure_msg.storage import appointments as store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage.db import Database

S = AppointmentStatus
NOW = FixedClock().now_ms()
LATER = NOW + 60_000


def _row(conn: sqlite3.Connection, appointment_id: bytes) -> tuple[Any, ...]:
    return tuple(conn.execute(
        "SELECT status, late, cancelled_via, updated_at_ms FROM appointments WHERE id = ?",
        (appointment_id,)).fetchone())


async def _appointment(db: Database, vault: Vault) -> bytes:
    """One scheduled appointment in a booklet of its own therapist."""

    def txn(conn: sqlite3.Connection) -> bytes:
        therapist = os.urandom(16)
        account_store.insert_account_txn(conn, vault, NewAccount(
            therapist, Role.THERAPIST, therapist.hex(), None, None, None, "fi", b"s" * 16,
            600_000, b"v", b"v", b"b", b"b", b"st", b"i" * 32, b"e" * 32), NOW)
        booklet = os.urandom(16)
        booklet_store.insert_booklet_txn(conn, booklet, therapist, NOW)
        appointment = Appointment(os.urandom(16), booklet, therapist, NOW + 86_400_000, 45,
                                  S.SCHEDULED, "1234", False, None)
        store.insert_appointment_txn(conn, appointment, NOW)
        return appointment.id

    return await db.write(txn)


async def test_every_status_change_through_the_store_follows_the_table(
    db: Database, vault: Vault,
) -> None:
    """From each status to each status: an allowed move is written; a forbidden one raises
    InvalidTransition and leaves the row (status, late, via, updated_at) as it was."""
    appointment_id = await _appointment(db, vault)

    def txn(conn: sqlite3.Connection) -> None:
        for old, new in product(S, S):
            # Put the row in `old` directly: the store itself would refuse most of these.
            conn.execute("UPDATE appointments SET status = ?, late = 0, cancelled_via = NULL,"
                         " updated_at_ms = ? WHERE id = ?", (old.value, NOW, appointment_id))
            before = _row(conn, appointment_id)
            if new in TRANSITIONS[old]:
                assert store.set_status_txn(conn, appointment_id, new, late=True, via="sms",
                                            now_ms=LATER)
                assert _row(conn, appointment_id) == (new.value, 1, "sms", LATER)
            else:
                with pytest.raises(InvalidTransition):
                    store.set_status_txn(conn, appointment_id, new, late=True, via="sms",
                                         now_ms=LATER)
                assert _row(conn, appointment_id) == before, (old, new)

    await db.write(txn)


async def test_a_forbidden_move_raises_and_changes_nothing(db: Database, vault: Vault) -> None:
    """Attended, then cancelled: the write transaction fails and the row stays attended."""
    appointment_id = await _appointment(db, vault)
    assert await db.write(lambda c: store.set_status_txn(c, appointment_id, S.ATTENDED,
                                                         now_ms=NOW))
    with pytest.raises(InvalidTransition, match="not scheduled"):
        await db.write(lambda c: store.set_status_txn(
            c, appointment_id, S.CANCELLED_BY_FAMILY, late=True, via="sms", now_ms=LATER))
    assert await db.read(lambda c: _row(c, appointment_id)) == ("attended", 0, None, NOW)


async def test_no_such_appointment_is_false(db: Database) -> None:
    assert not await db.write(lambda c: store.set_status_txn(c, os.urandom(16), S.ATTENDED,
                                                             now_ms=NOW))
