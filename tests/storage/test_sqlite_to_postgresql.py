"""The parts of the SQLite → PostgreSQL copy that need no database: which column pairs it copies
(and converts), which it refuses, the row digest it compares, and the DSN kept out of messages.
tests/test_migrate_to_postgresql.py runs the whole command on real databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from secure_msg.errors import MigrationRefused
from secure_msg.storage import sqlite_to_postgresql as copier


def test_the_twins_types_copy_as_they_are_and_bools_and_times_convert() -> None:
    plan = copier._plan(
        {"t": [("id", "INTEGER"), ("blob", "BLOB"), ("name", "TEXT"), ("flag", "INTEGER"),
               ("at_ms", "INTEGER")]},
        {"t": {"id": "bigint", "blob": "bytea", "name": "text", "flag": "boolean",
               "at_ms": "timestamp with time zone"}, "schema_version": {}})
    converts = {c.name: c.convert for c in plan["t"]}
    assert [c.name for c in plan["t"]] == ["id", "blob", "name", "flag", "at_ms"]
    assert converts["id"] is converts["blob"] is converts["name"] is None
    assert converts["flag"] is not None
    assert [converts["flag"](v) for v in (0, 1, None)] == [False, True, None]
    assert converts["at_ms"] is not None
    assert converts["at_ms"](1_700_000_000_123) == datetime(2023, 11, 14, 22, 13, 20, 123000,
                                                            tzinfo=UTC)


@pytest.mark.parametrize(("sqlite", "pg", "message"), [
    ({"t": [("n", "INTEGER")]}, {"t": {"n": "text"}},
     "t.n: no rule copies SQLite INTEGER into PostgreSQL text"),
    ({"t": [("n", "INTEGER")]}, {"t": {"n": "bigint", "m": "bigint"}},
     "the columns of t differ"),
    ({"t": [("n", "INTEGER")], "u": [("n", "INTEGER")]}, {"t": {"n": "bigint"}},
     "the schemas differ: only in SQLite ['u']"),
])
def test_a_difference_no_copy_can_bridge_is_refused_by_name(
    sqlite: dict[str, list[tuple[str, str]]], pg: dict[str, dict[str, str]], message: str,
) -> None:
    with pytest.raises(MigrationRefused, match=message.replace("[", r"\[").replace("]", r"\]")):
        copier._plan(sqlite, pg)


def test_the_digest_ignores_row_order_but_not_types_or_values() -> None:
    rows = [(1, b"a", "x", None), (2, b"b", "y", 7)]
    total = sum(copier.row_digest(r) for r in rows)
    assert total == sum(copier.row_digest(r) for r in reversed(rows))
    assert copier.row_digest((1, b"a")) != copier.row_digest((1, "a"))
    assert copier.row_digest((None,)) != copier.row_digest(("",))
    assert copier.row_digest((True,)) != copier.row_digest((1,))
    assert copier.row_digest((b"ab", b"c")) != copier.row_digest((b"a", b"bc"))
    assert copier.row_digest((memoryview(b"a"),)) == copier.row_digest((b"a",))


def test_messages_never_carry_the_dsn_or_its_password() -> None:
    dsn = "postgresql://app:s3cret-pw@db.example/secure_msg"
    text = f'connection to "{dsn}" failed: password s3cret-pw rejected'
    assert "s3cret-pw" not in copier.redact(text, dsn)
    assert dsn not in copier.redact(text, dsn)
    key_value = "host=db.example user=app password=k3y-v4lue dbname=x"
    assert "k3y-v4lue" not in copier.redact("password k3y-v4lue wrong", key_value)
