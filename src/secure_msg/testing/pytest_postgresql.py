"""pytest plugin: the PostgreSQL backend under test (issue 18).

- `pg_cluster` (session): a throwaway cluster in a temporary directory (testing/pg_cluster.py),
  started the first time a test asks for it and stopped after the session. Never a system
  service; without the binaries the test fails naming the package (`make test` installs it).
- `pg_template` (session): a database migrated once; `pg_dsn` gives each test its own fresh
  copy of it (CREATE DATABASE … TEMPLATE: ≈ 20 ms, where migrating would be ≈ 150 ms).
- `backend`: "sqlite" unless the run says `--backend=postgresql`; the shared `config` and `db`
  fixtures (tests/conftest.py) follow it, so any folder can run on PostgreSQL; tests marked
  `sqlite_only(reason)` are then left out. A folder may
  override `backend` with both (tests/storage does): those items carry the `postgresql` mark.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest

from secure_msg.testing.pg_cluster import PgCluster, find_bindir

BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "secure_msg_template"
_names = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=BACKENDS, default="sqlite",
                     help="database backend of the config and db fixtures (default sqlite)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--backend=postgresql` leaves out tests marked `sqlite_only` (they read SQLite's files);
    pytest reports them as deselected."""
    if config.getoption("backend") != "postgresql":
        return
    keep = [item for item in items if item.get_closest_marker("sqlite_only") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    if find_bindir() is None:
        pytest.fail("PostgreSQL server binaries not found: `make postgresql` (apt-get install "
                    "postgresql) or set SECURE_MSG_PG_BINDIR", pytrace=False)
    cluster = PgCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    import psycopg

    from secure_msg.storage import migrations

    dsn = pg_cluster.create_database(TEMPLATE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrations.migrate_postgresql(conn)
    return TEMPLATE


@pytest.fixture
def pg_database(pg_cluster: PgCluster, pg_template: str) -> Iterator[Callable[[], str]]:
    """Make fresh, migrated databases (one per server a test starts); returns their DSNs.
    All are dropped after the test."""
    import psycopg

    made: list[str] = []

    def make() -> str:
        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
        made.append(name)
        return pg_cluster.dsn(name)

    yield make
    for name in made:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_dsn(pg_database: Callable[[], str]) -> str:
    """A fresh, migrated database of this test's own."""
    return pg_database()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("backend"))


def both_backends() -> list[object]:
    """`params` for a `backend` fixture that runs each test on both, marked."""
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
