"""`Txn`: the open transaction that services hand to storage functions.

A service never runs SQL. It writes a function of one `Txn` that calls storage functions
(`store.add_member_txn(txn, …)`), and `Database.write`/`read` runs it inside one transaction:

    def txn(t: Txn) -> None:
        store.insert_booklet_txn(t, booklet_id, owner, now)
        audit_store.append_audit_txn(t, at_ms=now, actor=actor, action="booklet.created")

    await db.write(txn)

Only storage/ looks inside a Txn (tests/test_layers.py holds that). Two backends satisfy it:
SQLite's own connection (storage/db.py) and PostgreSQL's adapter (storage/pg_txn.py). Storage
SQL is written in the subset both accept: `?` placeholders, ON CONFLICT … DO NOTHING/UPDATE
with `excluded.`, RETURNING instead of lastrowid, CASE instead of two-argument MIN/MAX, CAST
… AS BIGINT around SUM; the few things only one dialect has branch on `is_sqlite`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    """What a storage function may do with the result of `execute`."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Txn(Protocol):
    """The open transaction: statements with `?` placeholders and a tuple of parameters."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


def is_sqlite(conn: Txn) -> bool:
    """For the few statements only one dialect has (PRAGMA, sqlite_master, …)."""
    return isinstance(conn, sqlite3.Connection)
