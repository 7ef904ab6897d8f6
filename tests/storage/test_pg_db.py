"""PostgreSQL's Database: the guarantees of SQLite's writer (tests/storage/test_db_writer.py)
on a throwaway cluster: group commit, a failing function fails alone, an acknowledged write is
durable and visible to anyone, readers cannot write, a dropped connection is replaced, and the
DSN's password never reaches a log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
import pytest

from secure_msg.config import load_config, with_overrides
from secure_msg.errors import ConfigError
from secure_msg.storage.db import DATABASE_URL_ENV, Database, open_database
from secure_msg.storage.pg_db import PgDatabase
from secure_msg.storage.txn import Txn

pytestmark = pytest.mark.postgresql

CREATE = "CREATE TABLE IF NOT EXISTS t (id BIGINT PRIMARY KEY, v TEXT NOT NULL UNIQUE)"


@pytest.fixture
def backend() -> str:
    return "postgresql"


def _insert(value: str, row_id: int) -> Any:
    def txn(t: Txn) -> int:
        t.execute("INSERT INTO t (id, v) VALUES (?, ?)", (row_id, value))
        return row_id
    return txn


@pytest.fixture
async def pg(db: Database) -> PgDatabase:
    assert isinstance(db, PgDatabase)
    await db.write(lambda t: t.execute(CREATE))
    return db


async def test_open_database_picks_postgresql_from_the_config(db: Database) -> None:
    assert isinstance(db, PgDatabase)
    assert await db.ping()


async def test_concurrent_writes_share_commits(pg: PgDatabase) -> None:
    """100 writers at once: every one acknowledged, in far fewer COMMITs than writes."""
    commits = pg.stats.commits
    ids = await asyncio.gather(*(pg.write(_insert(f"v{i}", i)) for i in range(100)))
    assert ids == list(range(100))
    assert pg.stats.commits - commits < 50
    rows = await pg.read(lambda t: t.execute("SELECT COUNT(*) FROM t").fetchone())
    assert rows == (100,)


async def test_a_failing_function_does_not_poison_its_batch(pg: PgDatabase) -> None:
    """A unique violation fails its own caller; the batch around it commits."""
    await pg.write(_insert("taken", 1))
    results = await asyncio.gather(
        pg.write(_insert("a", 2)), pg.write(_insert("taken", 3)), pg.write(_insert("b", 4)),
        return_exceptions=True)
    assert results[0] == 2
    assert results[2] == 4
    assert isinstance(results[1], psycopg.errors.UniqueViolation)
    values = await pg.read(lambda t: t.execute("SELECT v FROM t ORDER BY id").fetchall())
    assert values == [("taken",), ("a",), ("b",)]


async def test_an_acknowledged_write_is_visible_to_a_fresh_connection(
        pg: PgDatabase, pg_dsn: str) -> None:
    await pg.write(_insert("durable", 7))
    with psycopg.connect(pg_dsn) as other:
        assert other.execute("SELECT v FROM t WHERE id = 7").fetchone() == ("durable",)


async def test_reads_cannot_write(pg: PgDatabase) -> None:
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        await pg.read(_insert("nope", 1))
    assert await pg.read(lambda t: t.execute("SELECT COUNT(*) FROM t").fetchone()) == (0,)
    assert await pg.read_now(lambda t: t.execute("SELECT 1").fetchone()) == (1,)


async def test_connections_the_server_dropped_are_replaced(pg: PgDatabase, pg_dsn: str) -> None:
    """An operator (or a restart) ends every session of the app: the next write and read
    run on new connections, and nothing is lost."""
    await pg.write(_insert("before", 1))
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'secure-msg'").fetchone()
    assert ended == (3,)  # the writer and two readers
    assert await pg.write(_insert("after", 2)) == 2
    rows = await pg.read(lambda t: t.execute("SELECT v FROM t ORDER BY id").fetchall())
    assert rows == [("before",), ("after",)]


async def test_close_finishes_queued_writes_then_refuses(pg: PgDatabase) -> None:
    pending = [asyncio.ensure_future(pg.write(_insert(f"q{i}", i))) for i in range(20)]
    await asyncio.sleep(0)
    await pg.close()
    assert await asyncio.gather(*pending) == list(range(20))
    with pytest.raises(RuntimeError, match="closed"):
        await pg.write(_insert("late", 99))
    await pg.close()  # again: nothing to do


async def test_without_the_dsn_start_up_names_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    storage = with_overrides(load_config(None, env={}), storage={"backend": "postgresql"}).storage
    with pytest.raises(ConfigError, match=DATABASE_URL_ENV):
        await open_database(storage)


async def test_the_dsn_password_never_reaches_the_log(
        pg_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    """A password in the DSN (trust auth ignores it here) appears in no log line, through
    start-up, a failing batch and close."""
    secret = "s3cret-pw-4242"
    dsn = pg_dsn.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    caplog.set_level(logging.DEBUG)
    database = await PgDatabase.open_dsn(dsn)
    await database.write(lambda t: t.execute(CREATE))

    def broken(t: Txn) -> None:
        t.execute("SELECT * FROM no_such_table")

    with pytest.raises(psycopg.errors.UndefinedTable):
        await database.write(broken)
    await database.close()
    assert secret not in caplog.text
