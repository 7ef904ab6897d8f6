"""Fixtures shared by every test folder: a real database file, keys, the app, the real server."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from secure_msg.clock import FixedClock
from secure_msg.config import Config, load_config, with_overrides
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.server_keys import generate_key_files, load_vault
from secure_msg.storage.db import DATABASE_URL_ENV, Database, open_database
from secure_msg.testing.contract import Contract
from secure_msg.testing.server_process import ServerProcess, start_server
from secure_msg.web.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[1]

# The local Twilio server, SDK settings for it and a webhook sink, for any test folder.
pytest_plugins = ["secure_msg.testing.pytest_twilio", "secure_msg.testing.pytest_postgresql"]


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    generate_key_files(path, system_rng)
    return path


@pytest.fixture
def vault(keys_dir: Path) -> Vault:
    return load_vault(keys_dir, system_rng)


@pytest.fixture
def config(tmp_path: Path, keys_dir: Path, backend: str, request: pytest.FixtureRequest,
           monkeypatch: pytest.MonkeyPatch) -> Config:
    """Defaults, with the database and keys in this test's temporary directory. On the
    PostgreSQL backend (`--backend=postgresql`, or a folder's own `backend`) the database is a
    fresh one of the test's own, named in SECURE_MSG_DATABASE_URL as in production."""
    if backend == "postgresql":
        monkeypatch.setenv(DATABASE_URL_ENV, request.getfixturevalue("pg_dsn"))
    return with_overrides(
        load_config(None, env={}),
        storage={"database_path": tmp_path / "var" / "secure-msg.db", "keys_dir": keys_dir,
                 "backend": backend},
        argon2={"opslimit": 2, "memlimit_bytes": 19 * 1024 * 1024},
    )


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    database = await open_database(config.storage)
    yield database
    await database.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


Client = TestClient[web.Request, web.Application]


ContractCheck = Callable[[web.Application], web.Application]


@pytest.fixture
def contract() -> Iterator[ContractCheck]:
    """Wrap an app so that every answer it gives in this test is checked against its own
    /api/openapi.json (secure_msg.testing.contract); the test fails at teardown on any
    undocumented status, media type or body."""
    installed: list[Contract] = []

    def check(app: web.Application) -> web.Application:
        installed.append(Contract.install(app))
        return app

    yield check
    violations = [v for c in installed for v in c.violations]
    assert not violations, "answers that depart from /api/openapi.json:\n" + "\n".join(
        dict.fromkeys(violations))


@pytest.fixture
async def client(config: Config, clock: FixedClock, aiohttp_client: AiohttpClient,
                 contract: ContractCheck) -> Client:
    """The whole app in-process (real database file, real keys) on a loopback test server,
    every answer checked against the API's document."""
    return await aiohttp_client(contract(create_app(config, clock=clock)))


@pytest.fixture
def server_factory(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                   ) -> Iterator[Callable[..., ServerProcess]]:
    """Start real servers (subprocesses) on free ports; all are killed at teardown. On the
    PostgreSQL backend each server gets a fresh database of its own (through the environment,
    as in production)."""
    started: list[ServerProcess] = []

    def factory(name: str = "server", **kwargs: object) -> ServerProcess:
        if backend == "postgresql":
            env: dict[str, str] = dict(kwargs.pop("env", None) or {})  # type: ignore[call-overload]
            env.setdefault("SECURE_MSG_STORAGE_BACKEND", "postgresql")
            env.setdefault(DATABASE_URL_ENV, request.getfixturevalue("pg_database")())
            kwargs["env"] = env
        server = start_server(tmp_path / name, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def secure_msg_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """One real server on an ephemeral port, ready (/readyz answered)."""
    return server_factory()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory laid out like a checkout: config/secure-msg.example.toml and nothing else."""
    (tmp_path / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "secure-msg.example.toml", tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SECURE_MSG_"):
            monkeypatch.delenv(name)
    return tmp_path
