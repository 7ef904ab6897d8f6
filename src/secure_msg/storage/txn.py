"""`Txn`: the open transaction that services hand to storage functions.

A service never runs SQL. It writes a function of one `Txn` that calls storage functions
(`store.add_member_txn(txn, …)`), and `Database.write`/`read` runs it inside one transaction:

    def txn(t: Txn) -> None:
        store.insert_booklet_txn(t, booklet_id, owner, now)
        audit_store.append_audit_txn(t, at_ms=now, actor=actor, action="booklet.created")

    await db.write(txn)

Only storage/ looks inside a Txn (tests/test_layers.py holds that): today it is SQLite's
connection, and a second backend replaces this alias with its own handle without changing
the services.
"""

from __future__ import annotations

import sqlite3
from typing import TypeAlias

Txn: TypeAlias = sqlite3.Connection
