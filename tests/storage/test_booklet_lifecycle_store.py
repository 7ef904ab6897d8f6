"""The lifecycle store's status guards on a real database: closing twice, reminding twice and
purging a booklet whose members were never reminded all change nothing."""

from __future__ import annotations

import os
import sqlite3

from secure_msg.crypto.vault import Vault
from secure_msg.model.accounts import NewAccount
from secure_msg.model.booklet_lifecycle import BookletStatus
from secure_msg.model.roles import Role
from secure_msg.storage import accounts as account_store
from secure_msg.storage import booklet_lifecycle as store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage.db import Database

NOW = 1_767_225_600_000


async def test_guards(db: Database, vault: Vault) -> None:
    booklet = os.urandom(16)

    def setup(conn: sqlite3.Connection) -> None:
        therapist = os.urandom(16)
        account_store.insert_account_txn(conn, vault, NewAccount(
            therapist, Role.THERAPIST, "t", None, None, None, "fi", b"s" * 16, 600_000,
            b"v", b"v", b"b", b"b", b"st", b"i" * 32, b"e" * 32), NOW)
        booklet_store.insert_booklet_txn(conn, booklet, therapist, NOW)
        booklet_store.add_member_txn(conn, booklet, therapist, Role.THERAPIST, NOW)
        assert store.status_txn(conn, booklet) is BookletStatus.OPEN
        assert store.close_txn(conn, booklet, therapist, NOW, NOW + 10)
        assert not store.close_txn(conn, booklet, therapist, NOW + 1, NOW + 11)

    await db.write(setup)

    def not_reminded(conn: sqlite3.Connection) -> object:
        return store.purge_txn(conn, booklet, NOW + 100)

    assert await db.write(not_reminded) is None  # closed, not reminded: no purge
    assert await db.read(lambda c: store.tables_naming_txn(c, booklet)) == [
        "booklets", "members"]

    def remind(conn: sqlite3.Connection) -> tuple[bool, bool]:
        return (store.mark_reminded_txn(conn, booklet, NOW + 5, NOW + 20),
                store.mark_reminded_txn(conn, booklet, NOW + 6, NOW + 30))

    assert await db.write(remind) == (True, False)
    deleted = await db.write(not_reminded)
    assert deleted is not None
    assert deleted["booklets"] == 1
    assert deleted["members"] == 1
    assert await db.write(not_reminded) is None  # purged once
    row = await db.read(lambda c: store.lifecycle_txn(c, booklet))
    assert row is not None
    assert (row.status, row.purge_after_ms, row.purged_at_ms) == (
        BookletStatus.PURGED, NOW + 20, NOW + 100)
    assert await db.read(lambda c: store.tables_naming_txn(c, booklet)) == []
