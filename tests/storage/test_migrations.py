"""Schema files: upgrading from any earlier version equals a fresh create; columns commented."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from secure_msg.storage import migrations


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


def test_every_column_in_every_schema_file_has_a_comment() -> None:
    """Schema files document each column on its own line (`-- why it exists`)."""
    for migration in migrations.load_migrations():
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
