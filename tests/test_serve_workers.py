"""`secure-msg serve --workers N` (issue 18): N processes on one PostgreSQL database share one
port; the parent forwards SIGTERM and exits when they have. On SQLite it is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.server_process import start_server, write_test_config

WORKERS = 2
CONNECTIONS = 24  # the kernel hashes each to a worker: all on one has odds of 2**-23


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def _server_sockets(port: int) -> dict[int, int]:
    """Established connections to `port`, as {client's port: the server socket's inode}."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                found[int(remote.rsplit(":", 1)[1], 16)] = inode
    return found


def _running(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _owner(inode: int, pids: list[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None


@pytest.mark.postgresql
@pytest.mark.slow
async def test_two_workers_share_the_port_and_stop_together(
    tmp_path: Path, pg_database: Callable[[], str],
) -> None:
    server = start_server(
        tmp_path, env={"SECURE_MSG_STORAGE_BACKEND": "postgresql",
                       DATABASE_URL_ENV: pg_database()},
        module_args=("secure_msg", "serve", "--workers", str(WORKERS)), timeout=90)
    try:
        assert server.process is not None
        workers = _children(server.process.pid)
        assert len(workers) == WORKERS
        port = int(server.base_url.rsplit(":", 1)[1])
        sessions = [aiohttp.ClientSession() for _ in range(CONNECTIONS)]
        try:
            # One keep-alive connection each, left open, so the server side can be looked up.
            for http in sessions:
                async with http.get(server.url("/readyz")) as resp:
                    assert resp.status == 200
            local_ports = [next(iter(http.connector._conns.values()))[0][0]  # type: ignore[union-attr]
                           .transport.get_extra_info("sockname")[1] for http in sessions]
            by_port = _server_sockets(port)
            owners = {_owner(by_port[p], workers) for p in local_ports}
            assert owners == set(workers)  # both workers answered
        finally:
            await asyncio.gather(*(http.close() for http in sessions))
        assert server.stop(timeout=30) == 0
        assert not any(_running(pid) for pid in workers)
    finally:
        server.stop()


def test_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    """A clear error naming the key and why, and no process left serving."""
    config = write_test_config(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "serve", "--workers", "2", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "storage.backend" in out.stderr
    assert "postgresql" in out.stderr
    assert "listening" not in out.stdout
