"""Invariant 5 at the storage layer: every acknowledged write survives kill -9 of the server.

The server under test is the real app (a subprocess) started through testing/write_probe.py,
which adds one test-only route, POST /test/write; clients post concurrently, the process is
killed mid-stream, and after a restart every row whose POST got a 201 is there and the audit
chain is intact.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import aiohttp
import psycopg
import pytest

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.pytest_postgresql import both_backends
from secure_msg.testing.server_process import WRITE_PROBE, ServerProcess

CLIENTS, PER_CLIENT = 16, 400


async def _post_until_killed(server: ServerProcess, kill_after: int) -> set[str]:
    acknowledged: set[str] = set()
    killed = asyncio.Event()

    async def client(n: int, session: aiohttp.ClientSession) -> None:
        for i in range(PER_CLIENT):
            marker = f"c{n}-{i}"
            try:
                async with session.post(server.url("/test/write"), data=marker) as response:
                    if response.status == 201:
                        acknowledged.add(marker)
            except (TimeoutError, aiohttp.ClientError):
                return
            if len(acknowledged) >= kill_after and not killed.is_set():
                killed.set()
                server.kill()

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(n, session) for n in range(CLIENTS)))
    assert killed.is_set(), "server was never killed"
    return acknowledged


def _stored_targets(server: ServerProcess, backend: str) -> set[str]:
    sql = "SELECT target FROM audit_events WHERE action = 'test.write'"
    if backend == "postgresql":
        with psycopg.connect(server.env[DATABASE_URL_ENV]) as pg:
            return {row[0] for row in pg.execute(sql)}
    conn = sqlite3.connect(server.db_path)
    stored = {row[0] for row in conn.execute(sql)}
    conn.close()
    return stored


@pytest.mark.slow
@pytest.mark.parametrize("backend", both_backends())
async def test_every_acknowledged_write_survives_kill_9(
    server_factory: Callable[..., ServerProcess], backend: str,
) -> None:
    """Concurrent group-committed writes, kill -9, restart: no acknowledged row is missing
    (on PostgreSQL: kill -9 of the app process; the database server goes on)."""
    server = server_factory(module_args=WRITE_PROBE)
    acknowledged = await _post_until_killed(server, kill_after=1500)
    assert len(acknowledged) >= 1500
    server.start()  # same files, new process
    stored = _stored_targets(server, backend)
    assert acknowledged <= {t.removeprefix("marker:") for t in stored}
    async with aiohttp.ClientSession() as session, session.get(server.url("/readyz")) as r:
        assert r.status == 200
    server.stop()
    verify = _audit_verify(server)
    assert verify.returncode == 0, verify.stderr


def _audit_verify(server: ServerProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "audit", "verify",
         "--config", str(server.config_path)], capture_output=True, text=True, check=False,
        env={**os.environ, **server.env})
