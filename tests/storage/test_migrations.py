"""Schema files: upgrading from any earlier version equals a fresh create; columns commented."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from secure_msg.storage import migrations
from secure_msg.testing.pg_cluster import PgCluster


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [(t, n, s) for t, n, s in rows]


def _fresh(path: Path, schema_dir: migrations.SchemaDir | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, schema_dir=schema_dir)
    return conn


def test_upgrade_from_every_version_equals_fresh_create(tmp_path: Path) -> None:
    """For each vN: create at vN, upgrade to latest; sqlite_master equals a fresh database's."""
    latest = len(migrations.load_migrations())
    fresh = _schema(_fresh(tmp_path / "fresh.db"))
    for version in range(1, latest + 1):
        conn = sqlite3.connect(tmp_path / f"v{version}.db", isolation_level=None)
        migrations.migrate(conn, target=version)
        assert migrations.current_version(conn) == version
        migrations.migrate(conn)
        assert migrations.current_version(conn) == latest
        assert _schema(conn) == fresh


def _copy_schema(tmp_path: Path) -> tuple[Path, int]:
    schema = tmp_path / "schema"
    schema.mkdir()
    for migration in migrations.load_migrations():
        (schema / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    return schema, len(migrations.load_migrations()) + 1


def test_runner_applies_a_new_file_and_only_once(tmp_path: Path) -> None:
    """Adding the next NNNN_*.sql is all a schema change takes; re-running applies nothing."""
    schema, following = _copy_schema(tmp_path)
    conn = _fresh(tmp_path / "db.sqlite", schema)
    (schema / f"{following:04d}_extra.sql").write_text(
        "CREATE TABLE extra (\n    id INTEGER PRIMARY KEY  -- an id\n) STRICT;\n")
    assert migrations.migrate(conn, schema_dir=schema) == [following]
    assert migrations.migrate(conn, schema_dir=schema) == []
    names = [row[0] for row in conn.execute("SELECT name FROM schema_version ORDER BY version")]
    assert names[0] == "initial"
    assert names[-1] == "extra"


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    """A broken schema file rolls back entirely; the version stays where it was."""
    schema, following = _copy_schema(tmp_path)
    conn = _fresh(tmp_path / "db.sqlite", schema)
    before = _schema(conn)
    (schema / f"{following:04d}_broken.sql").write_text(
        "CREATE TABLE ok (id INTEGER);\nNOT SQL;\n")
    with pytest.raises(sqlite3.OperationalError):
        migrations.migrate(conn, schema_dir=schema)
    assert migrations.current_version(conn) == following - 1
    assert _schema(conn) == before
    assert not conn.in_transaction


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_column_in_every_schema_file_has_a_comment(dialect: migrations.Dialect) -> None:
    """Schema files document each column on its own line (`-- why it exists`)."""
    for migration in migrations.load_migrations(dialect=dialect):
        for table, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\)", migration.sql, re.S):
            for line in body.strip().splitlines():
                stripped = line.strip()
                if not stripped or stripped.startswith(("--", "CHECK", "PRIMARY", "UNIQUE",
                                                        "FOREIGN")):
                    continue
                assert "--" in stripped, f"{migration.name}: {table}: uncommented: {stripped}"


def test_entries_survive_the_rowid_rebuild(tmp_path: Path) -> None:
    """0004 rebuilds `entries` as a rowid table: every row written at v3 reads back the same."""
    conn = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    migrations.migrate(conn, target=3)
    conn.execute("PRAGMA foreign_keys=ON")
    account, booklet = b"a" * 16, b"b" * 16
    conn.execute(
        "INSERT INTO accounts (id, role, login_index, login_enc, kdf_salt, kdf_iterations,"
        " auth_verifier, recovery_verifier, password_bundle, recovery_bundle, key_statement,"
        " identity_key, encryption_key, created_at_ms)"
        " VALUES (?, 'therapist', x'01', x'01', x'01', 600000, x'01', x'01', x'01', x'01',"
        " x'01', x'01', x'01', 0)", (account,))
    conn.execute("INSERT INTO booklets (id, created_by, created_at_ms, last_hash)"
                 " VALUES (?, ?, 0, ?)", (booklet, account, b"\0" * 32))
    rows = [(booklet, seq, bytes([seq]) * 16, account, 2, seq, seq + 1, bytes([seq]) * 32,
             bytes([seq]) * (2000 + seq)) for seq in range(1, 40)]
    conn.executemany("INSERT INTO entries (booklet_id, seq, entry_id, author_id, kind,"
                     " created_at_ms, received_at_ms, entry_hash, envelope)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    migrations.migrate(conn)
    after = conn.execute("SELECT booklet_id, seq, entry_id, author_id, kind, created_at_ms,"
                         " received_at_ms, entry_hash, envelope FROM entries ORDER BY seq"
                         ).fetchall()
    assert after == rows
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'entries'").fetchone()[0]
    assert "WITHOUT ROWID" not in sql
    with pytest.raises(sqlite3.IntegrityError):  # (booklet, seq) is still unique
        conn.execute("INSERT INTO entries (booklet_id, seq, entry_id, author_id, kind,"
                     " created_at_ms, received_at_ms, entry_hash, envelope)"
                     " VALUES (?, 1, ?, ?, 2, 0, 0, x'00', x'00')", (booklet, b"z" * 16, account))


# PostgreSQL: the same files, one beside each SQLite file (schema/postgresql/).

def _pg_schema(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a migration defines, in a comparable form."""
    queries = {
        "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default,"
                   " is_identity FROM information_schema.columns"
                   " WHERE table_schema = 'public' ORDER BY 1, 2",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes"
                   " WHERE schemaname = 'public' ORDER BY 1, 2",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                       " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
                       " ORDER BY 1, 2",
        "triggers": "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
                    " WHERE NOT tgisinternal ORDER BY 1",
    }
    return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}


@pytest.mark.postgresql
def test_postgresql_upgrade_from_every_version_equals_fresh_create(pg_cluster: PgCluster) -> None:
    """For each vN on PostgreSQL: create at vN, upgrade to latest; the catalogue equals a
    fresh database's (columns, types, defaults, indexes, constraints, triggers)."""
    latest = len(migrations.load_migrations(dialect="postgresql"))
    with psycopg.connect(pg_cluster.create_database("fresh"), autocommit=True) as conn:
        assert migrations.migrate_postgresql(conn) == list(range(1, latest + 1))
        fresh = _pg_schema(conn)
    for version in range(1, latest + 1):
        name = f"upgrade_v{version}"
        with psycopg.connect(pg_cluster.create_database(name), autocommit=True) as conn:
            migrations.migrate_postgresql(conn, target=version)
            assert migrations.current_version_postgresql(conn) == version
            assert migrations.migrate_postgresql(conn) == list(range(version + 1, latest + 1))
            assert migrations.current_version_postgresql(conn) == latest
            assert _pg_schema(conn) == fresh
        pg_cluster.drop_database(name)
    pg_cluster.drop_database("fresh")


def test_both_dialects_have_the_same_migrations() -> None:
    """Each SQLite file has its PostgreSQL file: same number, same name."""
    sqlite = [(m.version, m.name) for m in migrations.load_migrations()]
    assert [(m.version, m.name) for m in migrations.load_migrations(dialect="postgresql")] \
        == sqlite


_TYPES = {"INTEGER": "bigint", "BLOB": "bytea", "TEXT": "text"}


@pytest.mark.postgresql
def test_both_dialects_end_with_the_same_tables_and_columns(
        tmp_path: Path, pg_dsn: str) -> None:
    """After every migration both have the same tables, columns, types (SQLite's INTEGER is
    bigint, BLOB bytea) and NOT NULLs: the storage SQL reads the same rows from either."""
    conn = _fresh(tmp_path / "db.sqlite")
    sqlite = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for _cid, column, typ, notnull, _default, pk in conn.execute(
                f"PRAGMA table_info({table})"):
            # a rowid alias (INTEGER PRIMARY KEY) is NOT NULL whatever the pragma says
            sqlite[(table, column)] = (_TYPES[typ], bool(notnull or pk))
    with psycopg.connect(pg_dsn) as pg:
        postgresql = {(t, c): (typ, nullable == "NO") for t, c, typ, nullable in pg.execute(
            "SELECT table_name, column_name, data_type, is_nullable"
            " FROM information_schema.columns WHERE table_schema = 'public'")}
    assert postgresql == sqlite


@pytest.mark.postgresql
def test_a_failing_postgresql_migration_leaves_the_previous_version(
        tmp_path: Path, pg_dsn: str) -> None:
    """A broken file rolls back entirely on PostgreSQL too (DDL is transactional there)."""
    schema, following = _copy_schema(tmp_path)
    (schema / "postgresql").mkdir()
    for migration in migrations.load_migrations(dialect="postgresql"):
        (schema / "postgresql" / f"{migration.version:04d}_{migration.name}.sql").write_text(
            migration.sql)
    (schema / "postgresql" / f"{following:04d}_broken.sql").write_text(
        "CREATE TABLE ok (id BIGINT);\nNOT SQL;\n")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        before = _pg_schema(conn)
        with pytest.raises(psycopg.errors.SyntaxError):
            migrations.migrate_postgresql(conn, schema_dir=schema)
        assert migrations.current_version_postgresql(conn) == following - 1
        assert _pg_schema(conn) == before
