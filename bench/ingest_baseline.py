"""Ingest ceiling: a bare aiohttp handler doing one group-commit INSERT of a 2 KiB body.

    .venv/bin/python bench/ingest_baseline.py [--seconds 10] [--clients 64]

The server (a subprocess, one process, the project's storage/db.py writer: WAL, synchronous=FULL,
one BEGIN IMMEDIATE … COMMIT per batch) and the load generator (this process, aiohttp client,
64 concurrent keep-alive connections) share the machine's two cores over loopback. Every request
is acknowledged only after its COMMIT. The full stack's ingest benchmark is compared to this.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

BODY = os.urandom(2048)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _insert_txn(body: bytes) -> Callable[[Txn], int]:
    def txn(conn: Txn) -> int:
        row = conn.execute("INSERT INTO bench (body) VALUES (?) RETURNING id", (body,)).fetchone()
        return int(row[0])

    return txn


async def serve_until_sigterm(app: web.Application) -> None:
    """Serve a bare bench app on a free loopback port, print {"port": …}, stop on SIGTERM."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


async def _serve(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.write(lambda c: c.execute(
        "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"))

    async def ingest(request: web.Request) -> web.Response:
        row_id = await db.write(_insert_txn(await request.read()))
        return web.json_response({"id": row_id}, status=201)

    app = web.Application()
    app.router.add_post("/ingest", ingest)
    await serve_until_sigterm(app)
    print(json.dumps({"commits": db.stats.commits, "jobs": db.stats.jobs}), flush=True)
    await db.close()


async def _load(port: int, clients: int, seconds: float) -> list[float]:
    url = f"http://127.0.0.1:{port}/ingest"
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(url, data=BODY) as response:
                await response.read()
                assert response.status == 201
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return latencies


def run(clients: int = 64, seconds: float = 10.0, warmup: float = 1.0) -> dict[str, object]:
    """Start the bare server, warm up, load it for `seconds`, stop it; the figures as a dict.

    bench/ingest.py calls this to take the ceiling in the same run as the full stack."""
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(Path(tmp) / "bench.db")],
            stdout=subprocess.PIPE, text=True,
        )
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        asyncio.run(_load(port, clients, warmup))
        cpu0 = cpu_seconds(server.pid)
        started = time.perf_counter()
        latencies = asyncio.run(_load(port, clients, seconds))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.pid) - cpu0
        server.send_signal(signal.SIGTERM)
        stats = json.loads(server.stdout.readline())
        server.wait(timeout=10)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "benchmark": "ingest_baseline", "clients": clients, "body_bytes": len(BODY),
        "requests": len(latencies), "req_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(quantiles[49] * 1000, 2), "p99_ms": round(quantiles[98] * 1000, 2),
        "writes_per_commit": round(stats["jobs"] / max(stats["commits"], 1), 1),
        "server_cpu_ms_per_request": round(1000 * cpu / max(len(latencies), 1), 3),
        "server_cores_busy": round(cpu / elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    print(json.dumps(run(args.clients, args.seconds)))

if __name__ == "__main__":
    main()
