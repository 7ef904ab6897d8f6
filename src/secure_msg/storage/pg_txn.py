"""PostgreSQL's `Txn`: a psycopg 3 connection speaking the storage layer's SQL.

Storage SQL is written once, in the subset SQLite and PostgreSQL both accept (storage/txn.py).
The one difference no rewrite removes is the placeholder: SQLite's `?` is psycopg's `%s`, and
a literal `%` must then be doubled. `to_pyformat` does that, once per distinct statement.

Two adaptations of values, both here:
- a Python bool is sent as an integer: flags are INTEGER columns (0/1) in both schemas;
- bytea comes back as `bytes` (psycopg's default), as SQLite returns a BLOB.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Dumper


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """`?` → `%s` and `%` → `%%`, outside quoted literals, identifiers and comments."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:  # '' or "" inside
                end = sql.find(ch, end + 2)
            if end == -1:
                raise ValueError(f"unterminated quote in SQL: {sql!r}")
            out.append(sql[i:end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class _BoolAsInt(Dumper):
    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


def configure(conn: psycopg.Connection[Any]) -> None:
    """The value adaptations above, on one connection."""
    conn.adapters.register_dumper(bool, _BoolAsInt)


class PgCursor:
    """The part of a DB-API cursor storage functions use, with SQLite's answers: `fetchone`
    is None (not an error) after a statement that returns no rows."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchone(self) -> Any:
        if self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        if self._cursor.description is None:
            return []
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgTxn:
    """One open transaction on a psycopg connection (BEGIN/COMMIT are the Database's)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        cursor = self.conn.cursor()
        cursor.execute(to_pyformat(sql), tuple(parameters))
        return PgCursor(cursor)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> PgCursor:
        cursor = self.conn.cursor()
        cursor.executemany(to_pyformat(sql), [tuple(p) for p in parameters])
        return PgCursor(cursor)
