"""Versioned schema files `schema/NNNN_name.sql`, applied in order, each in its own transaction.

To change the schema, add the file with the next number — never edit an applied one. Comment
every column and keep it upgrade-safe: tests/storage/test_migrations.py checks that every column
has a comment, and upgrades a database stepwise from every earlier version and requires the
result to equal a fresh create (same sqlite_master).

The applied versions are recorded in `schema_version` (created by 0001).

PostgreSQL's files are in `schema/postgresql/`, one beside each SQLite file with the same number
and name (tests/storage/test_migrations.py holds that, and that both dialects end with the same
tables and columns). Per-dialect files rather than one portable body: SQLite's DDL (STRICT,
WITHOUT ROWID, BLOB, a table rebuilt to change a CHECK, RAISE triggers) has no common subset
with PostgreSQL's worth the name, and some steps are storage layout that means nothing there
(0004). A new migration is written twice, usually as near-identical files.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from secure_msg.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

    from secure_msg.storage.txn import Txn

SchemaDir = Traversable | Path
Dialect = Literal["sqlite", "postgresql"]
_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def default_schema_dir() -> Traversable:
    return resources.files("secure_msg.storage") / "schema"


def load_migrations(
    schema_dir: SchemaDir | None = None, dialect: Dialect = "sqlite"
) -> list[Migration]:
    """All schema files of the dialect, sorted; versions must run 1, 2, 3… without gaps."""
    directory = schema_dir if schema_dir is not None else default_schema_dir()
    if dialect == "postgresql":
        directory = directory / "postgresql"
    found = []
    for entry in directory.iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        names = [f"{m.version:04d}_{m.name}" for m in found]
        raise RuntimeError(f"schema files must be numbered 0001, 0002, … without gaps: {names}")
    return found


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def migrate(
    conn: sqlite3.Connection, *, schema_dir: SchemaDir | None = None, target: int | None = None
) -> list[int]:
    """Apply every pending migration up to `target` (default: latest); return those applied.

    `conn` must have isolation_level=None. Each file runs as one script inside BEGIN IMMEDIATE …
    COMMIT (executescript would otherwise commit a transaction we opened around it).
    """
    applied = []
    for migration in load_migrations(schema_dir):
        if migration.version <= current_version(conn):
            continue
        if target is not None and migration.version > target:
            break
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            "INSERT INTO schema_version (version, name, applied_at_ms) VALUES "
            f"({migration.version}, '{migration.name}', {time.time_ns() // 1_000_000});\n"
            "COMMIT;"
        )
        try:
            conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


# pg_advisory_xact_lock key: processes starting together migrate one after the other.
_MIGRATION_LOCK = 0x5EC0_0001


def current_version_postgresql(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate_postgresql(
    conn: psycopg.Connection[Any], *, schema_dir: SchemaDir | None = None,
    target: int | None = None,
) -> list[int]:
    """PostgreSQL's `migrate`: each pending file and its schema_version row in one transaction
    (DDL is transactional there), under an advisory lock so that two processes starting at
    once apply each file once. `conn` must be in autocommit mode."""
    import psycopg  # an optional extra: only PostgreSQL's path needs it

    applied = []
    for migration in load_migrations(schema_dir, "postgresql"):
        if target is not None and migration.version > target:
            break
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                if migration.version <= current_version_postgresql(conn):
                    continue
                # no parameters: psycopg sends the file as one simple query, several statements
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at_ms) "
                    "VALUES (%s, %s, %s)",
                    (migration.version, migration.name, time.time_ns() // 1_000_000))
        except psycopg.errors.InsufficientPrivilege:
            # A least-privilege app role (docs/operations.md, "Roles") may not change the
            # schema: the owner role applies new versions first.
            raise ConfigError(
                "storage.backend",
                f"the database schema is at version {current_version_postgresql(conn)} and "
                f"this version of secure-msg needs {migration.version} or later, but its "
                "database role may not change the schema: run `secure-msg admin migrate` "
                "with the schema owner's connection string first") from None
        applied.append(migration.version)
    return applied


def schema_version_txn(conn: Txn) -> int:
    """The newest schema version applied (either backend)."""
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0
