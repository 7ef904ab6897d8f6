"""PostgreSQL's Database when the server is gone or set up for speed over durability: the
quick checks behind tests/test_kill_9_pg.py (kill -9 of the database server)."""

from __future__ import annotations

import psycopg
import pytest

from secure_msg.config import Config
from secure_msg.errors import DatabaseUnavailable
from secure_msg.storage.db import open_database
from secure_msg.storage.pg_db import PgDatabase
from secure_msg.storage.txn import Txn
from secure_msg.testing.pg_cluster import PgCluster

pytestmark = pytest.mark.postgresql


@pytest.fixture
def backend() -> str:
    return "postgresql"


async def test_an_unreachable_database_is_a_503_and_ping_false(
    config: Config, pg_dsn: str, pg_cluster: PgCluster,
) -> None:
    """With the database gone (here dropped: its sessions ended, new ones refused, as when
    the server is down) a write and a read fail at once with DatabaseUnavailable, which the
    API answers as 503 service-unavailable, not a 500; /readyz's `ping` is False (503)."""
    db = await open_database(config.storage)
    try:
        assert await db.ping()
        with psycopg.connect(pg_dsn) as conn:
            name = conn.info.dbname
        pg_cluster.drop_database(name)
        with pytest.raises(DatabaseUnavailable):
            await db.write(lambda t: t.execute("SELECT 1"))
        with pytest.raises(DatabaseUnavailable):
            await db.read(lambda t: t.execute("SELECT 1"))
        assert await db.ping() is False
    finally:
        await db.close()


async def test_the_apps_sessions_commit_synchronously_whatever_the_default(
    config: Config, pg_dsn: str,
) -> None:
    """A database (or role, or server) whose default is synchronous_commit = off acknowledges a
    COMMIT before its WAL is written, and a kill -9 of the server loses it: the app's own
    sessions set it back to on. Another durable value (local) is left as it is."""
    def setting(t: Txn) -> str:
        return str(t.execute("SHOW synchronous_commit").fetchone()[0])

    for default, expected in (("off", "on"), ("local", "local")):
        with psycopg.connect(pg_dsn, autocommit=True) as su:
            su.execute(f'ALTER DATABASE "{su.info.dbname}" SET synchronous_commit = {default}')
        db = await open_database(config.storage)
        try:
            assert isinstance(db, PgDatabase)
            assert await db.write(setting) == expected
            assert await db.read(setting) == expected
        finally:
            await db.close()
