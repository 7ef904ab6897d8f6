"""The storage tests run on both backends: the shared `config` and `db` fixtures follow
`backend`, and here it has both values (items on PostgreSQL carry the `postgresql` mark).
Tests of one backend's own machinery override `backend` in their module."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

import psycopg
import pytest

from secure_msg.config import Config
from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.pytest_postgresql import both_backends


@pytest.fixture(params=both_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# What each backend raises when a constraint or the audit trigger refuses a statement.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


@pytest.fixture
def behind_the_app(config: Config, backend: str) -> Callable[..., None]:
    """Run statements as someone who holds the database itself (the file, or PostgreSQL's
    superuser), not through the app: tampering the app's checks must find."""
    def run(*statements: str) -> None:
        if backend == "sqlite":
            conn = sqlite3.connect(config.storage.database_path)
            for statement in statements:
                conn.execute(statement)
            conn.commit()
            conn.close()
            return
        with psycopg.connect(os.environ[DATABASE_URL_ENV], autocommit=True) as pg:
            for statement in statements:
                pg.execute(statement.encode())
    return run
