"""Copy a SQLite installation into an empty PostgreSQL database, all or nothing, and check the
copy before it commits (`secure-msg admin migrate-to-postgresql`, docs/operations.md "Moving
from SQLite to PostgreSQL").

- The source is read in one transaction that holds SQLite's write lock (BEGIN IMMEDIATE): one
  snapshot, and a server or admin command that still writes waits or fails instead of writing
  what the copy would miss. The server must be stopped (the command checks that too); nothing
  is written to the source.
- The source must be at this version's latest schema, and its audit chain intact.
- Everything on the target happens in ONE transaction: the writers' advisory lock (no app
  process on the target writes meanwhile), the check that it is empty, the schema brought to
  the source's version (each migration a savepoint: DDL is transactional in PostgreSQL), every
  table copied, identity sequences moved past the copied ids, the blobs, the checks. Any
  failure rolls all of it back and the target is as it was.
- Tables go in foreign-key order, read from the target's catalog. Columns are named on both
  sides (the twins' column order differs: 0004 put SQLite's entries.id first, PostgreSQL's
  last). Rows travel in batches through COPY.
- Types: the twins use INTEGER/BIGINT, TEXT/TEXT and BLOB/BYTEA only (flags are 0/1 integers,
  times Unix milliseconds), which need no conversion; `_CONVERSIONS` lists the pairs that
  may appear, and a column of any other pair refuses the migration, naming it.
- Checked before COMMIT, on the target's own reading of what was written: every table's row
  count and an order-independent digest of its rows equal the source's, the audit chain
  verifies (the code of `admin audit verify`), and every booklet's entry chain holds.

The DSN is the caller's (SECURE_MSG_DATABASE_URL); it is never logged, and errors from the
driver are reported with it and its password masked.
"""

from __future__ import annotations

import graphlib
import hashlib
import itertools
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from secure_msg.errors import MigrationRefused
from secure_msg.storage import migrations
from secure_msg.storage.audit import verify_chain_txn
from secure_msg.storage.blob_copy import BlobRef
from secure_msg.storage.entry_chains import entry_chain_problems_txn
from secure_msg.storage.pg_db import WRITE_LOCK
from secure_msg.storage.pg_txn import to_pyformat

BATCH_ROWS = 1000
_DIGEST_MOD = 1 << 256

Convert = Callable[[Any], Any] | None


def _ms_to_timestamp(value: Any) -> Any:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _to_bool(value: Any) -> Any:
    return None if value is None else bool(value)


# (SQLite declared type, PostgreSQL data_type) → how a value changes on the way (None: as is).
# Today's twins use only the first three; the others are there so that a twin which one day
# says BOOLEAN or TIMESTAMPTZ for a 0/1 flag or a *_ms column is copied, not refused.
_CONVERSIONS: dict[tuple[str, str], Convert] = {
    ("INTEGER", "bigint"): None,
    ("TEXT", "text"): None,
    ("BLOB", "bytea"): None,
    ("INTEGER", "integer"): None,
    ("INTEGER", "smallint"): None,
    ("INTEGER", "boolean"): _to_bool,
    ("INTEGER", "timestamp with time zone"): _ms_to_timestamp,
    ("REAL", "double precision"): None,
}


@dataclass(frozen=True)
class Column:
    name: str
    convert: Convert


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int


@dataclass(frozen=True)
class CopyResult:
    version: int  # the schema version of both
    tables: tuple[TableCopy, ...]  # in the order copied
    blobs: int  # blob files copied into blob_chunks
    blob_rows: int
    audit_events: int
    booklets: int
    seconds: float  # all of it, from the source's lock to the target's COMMIT
    check_seconds: float  # of which reading back and checking before COMMIT

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


# Inserts the blobs' bytes on the target's connection, in the copy's transaction.
BlobCopier = Callable[[psycopg.Connection[Any], Sequence[BlobRef]], int]


def open_source(path: Path) -> sqlite3.Connection:
    """The source database, which must exist (never created here)."""
    if not path.is_file():
        raise MigrationRefused(f"there is no SQLite database at {path}")
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=rw", uri=True,
                           isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=3000")
    return conn


def redact(text: str, dsn: str) -> str:
    """`text` without the DSN or its password (a driver's message may quote either)."""
    secrets = [dsn]
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        password = None
    if password:
        secrets.append(str(password))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def copy_to_postgresql(source: sqlite3.Connection, dsn: str, copy_blobs: BlobCopier,
                       *, batch: int = BATCH_ROWS) -> CopyResult:
    """Copy `source` into the database at `dsn` (module docstring); refuses with
    MigrationRefused and leaves the target as it was on any failure."""
    started = time.monotonic()
    try:
        source.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise MigrationRefused(f"another process is writing to the SQLite database ({exc}): "
                               "stop the server first") from None
    try:
        version = _source_version(source)
        audit = verify_chain_txn(source)
        if not audit.ok:
            raise MigrationRefused(
                f"the source's audit chain is broken at event {audit.first_broken_seq} "
                f"({audit.reason}): not copied; see docs/operations.md on a broken chain")
        tables = _sqlite_columns(source)
        try:
            target = psycopg.connect(dsn, autocommit=True,
                                     application_name="secure-msg-migrate")
        except psycopg.Error as exc:
            raise MigrationRefused("cannot connect to the PostgreSQL database in "
                                   f"SECURE_MSG_DATABASE_URL: {redact(str(exc), dsn)}") from None
        try:
            with target:
                counts, blobs, booklets, checking = _copy_in_one_transaction(
                    source, target, tables, version, copy_blobs, batch)
        except (psycopg.Error, sqlite3.Error, OSError) as exc:
            # a value PostgreSQL refuses, a lost connection, an unreadable source or blob file
            raise MigrationRefused(f"the copy failed and was rolled back, the target is as it "
                                   f"was: {type(exc).__name__}: {redact(str(exc), dsn)}"
                                   ) from None
    finally:
        source.execute("ROLLBACK")  # nothing was written to the source
    blob_rows = next(t.rows for t in counts if t.name == "blobs")
    return CopyResult(version, tuple(counts), blobs, blob_rows, audit.checked, booklets,
                      time.monotonic() - started, checking)


def _source_version(source: sqlite3.Connection) -> int:
    version, latest = migrations.current_version(source), len(migrations.load_migrations())
    if version < latest:
        raise MigrationRefused(
            f"the SQLite database is at schema version {version}, this secure-msg at {latest}: "
            "bring it up to date first (start the server once with this version, or run "
            "`secure-msg admin audit verify` on it), then migrate")
    if version > latest:
        raise MigrationRefused(f"the SQLite database is at schema version {version}, newer "
                               f"than this secure-msg ({latest}): use the newer secure-msg")
    return version


def _sqlite_columns(source: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    """table → [(column, declared type)] of every table but schema_version (the target keeps
    its own record of the migrations it applied)."""
    names = [r[0] for r in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name != 'schema_version' ORDER BY name")]
    return {name: [(r[1], str(r[2]).upper()) for r in source.execute(
        f'PRAGMA table_info("{name}")')] for name in names}


def _copy_in_one_transaction(
    source: sqlite3.Connection, target: psycopg.Connection[Any],
    tables: dict[str, list[tuple[str, str]]], version: int, copy_blobs: BlobCopier, batch: int,
) -> tuple[list[TableCopy], int, int, float]:
    with target.transaction():
        # App processes already running on the target write only after our COMMIT.
        target.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        # The role's limits are for the app's short transactions (docs/operations.md suggests
        # idle_in_transaction_session_timeout): this one is long, and idle while blobs copy.
        target.execute("SET LOCAL statement_timeout = 0")
        target.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        _require_empty(target, list(tables), version)
        migrations.migrate_postgresql(target)  # nested: each file a savepoint of ours
        if migrations.current_version_postgresql(target) != version:
            raise MigrationRefused("the target did not reach the source's schema version")
        plan = _plan(tables, _pg_columns(target))
        counts: list[TableCopy] = []
        digests: dict[str, int] = {}
        for name in _dependency_order(target, list(plan)):
            rows, digest = _copy_table(source, target, name, plan[name], batch)
            counts.append(TableCopy(name, rows))
            digests[name] = digest
        _move_identities(target)
        checking = time.monotonic()
        _check_copy(target, plan, counts, digests)  # blob_chunks as copied: empty
        checking = time.monotonic() - checking
        blobs = copy_blobs(target, [
            (bytes(r[0]), bytes(r[1]), int(r[2]), bytes(r[3]))
            for r in source.execute("SELECT booklet_id, id, size, sha256 FROM blobs")])
        started = time.monotonic()
        booklets = _check_chains(source, target)
        checking += time.monotonic() - started
    return counts, blobs, booklets, checking


def _require_empty(target: psycopg.Connection[Any], names: list[str], version: int) -> None:
    """Refuse a target that holds anything of an installation: our tables with rows, or our
    tables without a schema_version (not ours to touch), or a newer schema."""
    present = [n for n in names if target.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (n,)).fetchone() == (True,)]
    have = migrations.current_version_postgresql(target)
    if have > version:
        raise MigrationRefused(f"the target database is at schema version {have}, newer than "
                               f"the source ({version}): not copied")
    if present and have == 0:
        raise MigrationRefused(
            f"the target database has secure-msg tables ({', '.join(present[:5])}) but no "
            "schema_version: not a database to copy into; use a new, empty one")
    full = [n for n in present if target.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(n))
    ).fetchone() == (True,)]
    if full:
        raise MigrationRefused(
            f"the target database is not empty ({', '.join(full[:5])} hold rows): the copy "
            "goes only into an empty database (new, or migrated with no rows); nothing changed")


def _pg_columns(target: psycopg.Connection[Any]) -> dict[str, dict[str, str]]:
    rows = target.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema()").fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        out.setdefault(table, {})[column] = data_type
    return out


def _plan(tables: dict[str, list[tuple[str, str]]], pg: dict[str, dict[str, str]]
          ) -> dict[str, list[Column]]:
    """The columns to copy, named, with their conversions; refuses any difference between the
    twins that a copy cannot bridge."""
    missing = sorted(set(tables) - set(pg))
    extra = sorted(set(pg) - set(tables) - {"schema_version"})
    if missing or extra:
        raise MigrationRefused(f"the schemas differ: only in SQLite {missing}, only in "
                               f"PostgreSQL {extra}")
    plan: dict[str, list[Column]] = {}
    for name, columns in tables.items():
        theirs = pg[name]
        if {c for c, _ in columns} != set(theirs):
            raise MigrationRefused(f"the columns of {name} differ: SQLite "
                                   f"{sorted(c for c, _ in columns)}, PostgreSQL {sorted(theirs)}")
        plan[name] = []
        for column, declared in columns:
            pair = (declared, theirs[column])
            if pair not in _CONVERSIONS:
                raise MigrationRefused(f"{name}.{column}: no rule copies SQLite {declared} into "
                                       f"PostgreSQL {theirs[column]}")
            plan[name].append(Column(column, _CONVERSIONS[pair]))
    return plan


def _dependency_order(target: psycopg.Connection[Any], names: list[str]) -> list[str]:
    """Referenced tables before those that reference them (the target's foreign keys)."""
    edges = target.execute(
        "SELECT c.relname, r.relname FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE k.contype = 'f' AND n.nspname = current_schema()").fetchall()
    graph: dict[str, set[str]] = {name: set() for name in sorted(names)}
    for child, parent in edges:
        if child in graph and parent in graph and child != parent:
            graph[child].add(parent)
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise MigrationRefused(f"the foreign keys form a cycle {exc.args[1]}: no order to "
                               "copy in") from None


def _copy_table(source: sqlite3.Connection, target: psycopg.Connection[Any], name: str,
                columns: list[Column], batch: int) -> tuple[int, int]:
    """COPY the table's rows in batches; (rows, digest of the rows as sent)."""
    names = [c.name for c in columns]
    converts = [c.convert for c in columns]
    needs_convert = any(converts)
    select = ", ".join(f'"{n}"' for n in names)
    cursor = source.execute(f'SELECT {select} FROM "{name}"')  # noqa: S608 - names from the schema
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, names)))
    count, digest = 0, 0
    with target.cursor() as pg, pg.copy(statement) as copy:
        while rows := cursor.fetchmany(batch):
            for row in rows:
                if needs_convert:
                    row = tuple(v if f is None else f(v) for f, v in zip(converts, row,
                                                                          strict=True))
                copy.write_row(row)
                digest += row_digest(row)
            count += len(rows)
    return count, digest % _DIGEST_MOD


def row_digest(row: Sequence[Any]) -> int:
    """SHA-256 of one row's values, typed and length-framed; summed over a table (modulo
    2^256) it is the same whatever order the rows are read in."""
    h = hashlib.sha256()
    for value in row:
        if value is None:
            h.update(b"N")
        elif isinstance(value, bytes | memoryview):
            data = bytes(value)
            h.update(b"B%d:" % len(data) + data)
        elif isinstance(value, str):
            data = value.encode()
            h.update(b"S%d:" % len(data) + data)
        elif isinstance(value, bool):
            h.update(b"T" if value else b"F")
        elif isinstance(value, int):
            h.update(b"I%d;" % value)
        else:  # a converted value (a timestamp, a float): as Python writes it
            data = repr(value).encode()
            h.update(b"R%d:" % len(data) + data)
    return int.from_bytes(h.digest(), "big")


def _move_identities(target: psycopg.Connection[Any]) -> None:
    """Each identity column's sequence to just past the largest id copied, as SQLite would
    number the next row (max + 1), so that the next insert does not collide."""
    for table, column in target.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        target.execute(sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, %s),"
            " COALESCE((SELECT MAX({}) FROM {}), 0) + 1, false)").format(
                sql.Identifier(column), sql.Identifier(table)), (table, column))


def _check_copy(target: psycopg.Connection[Any], plan: dict[str, list[Column]],
                counts: list[TableCopy], digests: dict[str, int]) -> None:
    """Read every table back from the target: the same number of rows with the same values."""
    for table in counts:
        select = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(c.name) for c in plan[table.name]),
            sql.Identifier(table.name))
        count, digest = 0, 0
        with target.cursor(name=f"check_{table.name}") as cursor:  # server-side: streamed
            cursor.itersize = 2000
            cursor.execute(select)
            for row in cursor:
                count += 1
                digest += row_digest(row)
        if count != table.rows or digest % _DIGEST_MOD != digests[table.name]:
            raise MigrationRefused(
                f"the copy of {table.name} does not read back as the source ({count} rows of "
                f"{table.rows}, or different values): rolled back")


_cursor_names = itertools.count(1)


class _StreamingTxn:
    """A `Txn` for reading whole tables back: each SELECT streams from a server-side cursor,
    where PgTxn would hold all its rows in memory (every envelope, for the entry chains)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, statement: str, parameters: Sequence[Any] = (), /) -> Any:
        # open until the transaction ends: each needs a name of its own
        cursor = self.conn.cursor(name=f"read_back_{next(_cursor_names)}")
        cursor.itersize = 2000
        cursor.execute(to_pyformat(statement), tuple(parameters))
        return cursor

    def executemany(self, statement: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        raise NotImplementedError("read only")


def _check_chains(source: sqlite3.Connection, target: psycopg.Connection[Any]) -> int:
    """The audit chain and every booklet's entry chain, as the target has them; returns how
    many booklets were checked. A problem names whether the source had it already."""
    report = verify_chain_txn(_StreamingTxn(target))
    if not report.ok:
        raise MigrationRefused(f"the copied audit chain does not verify at event "
                               f"{report.first_broken_seq} ({report.reason}): rolled back")
    booklets, problems = entry_chain_problems_txn(_StreamingTxn(target))
    if problems:
        _, in_source = entry_chain_problems_txn(source)
        where = "the source already has it" if in_source else "the source does not"
        raise MigrationRefused(f"an entry chain is broken in the copy ({problems[0]}; {where}"
                               f", {len(problems)} booklet(s) in all): rolled back")
    return booklets
