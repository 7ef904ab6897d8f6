"""Ingest through one and through two app processes on one PostgreSQL database (issue 18).

    .venv/bin/python bench/ingest_processes.py [--seconds 10] [--clients 64] [--warmup 2]

The load of bench/ingest.py (its set-up and pre-sealed 2 KiB entries, one keep-alive client per
booklet, 64 booklets), without its WebSocket listeners, on a durable throwaway cluster: first
every chain through one `secure-msg serve`, then, on a fresh database, half the chains through
each of two processes with the same keys. Every write transaction of every process takes the
writers' advisory lock (storage/pg_db.py, WRITE_LOCK), so the two processes' writes take
turns; this measures what a second process adds, on this machine (2 cores shared by the load
generator, both servers and PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import ingest
import ingest_baseline

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_process import ServerProcess, start_server


def _start(workdir: Path, dsn: str, processes: int) -> list[ServerProcess]:
    env = {"SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: dsn}
    servers = [start_server(workdir / "p0", env=env)]
    try:
        for i in range(1, processes):
            (workdir / f"p{i}").mkdir(parents=True)
            shutil.copytree(servers[0].keys_dir, workdir / f"p{i}" / "keys")
            servers.append(start_server(workdir / f"p{i}", env=env))
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


async def run(workdir: Path, dsn: str, processes: int, clients: int, seconds: float,
              warmup: float, per_booklet: int) -> dict[str, Any]:
    servers = _start(workdir, dsn, processes)
    try:
        connector = aiohttp.TCPConnector(limit=clients + 8)
        async with aiohttp.ClientSession(connector=connector) as http:
            fixture = await ingest.build(servers[0], http, clients, per_booklet)
            groups = [fixture.chains[i::processes] for i in range(processes)]

            async def post(seconds: float) -> list[list[float]]:
                return [latencies for latencies, _ in await asyncio.gather(*(
                    ingest._post_chains(http, server, group, seconds)
                    for server, group in zip(servers, groups, strict=True)))]

            await post(warmup)
            await asyncio.sleep(0.2)
            pids = [s.process.pid for s in servers if s.process is not None]
            cpu0 = sum(ingest_baseline.cpu_seconds(pid) for pid in pids)
            started = time.perf_counter()
            per_process = await post(seconds)
            elapsed = time.perf_counter() - started
            cpu = sum(ingest_baseline.cpu_seconds(pid) for pid in pids) - cpu0
    finally:
        for server in servers:
            server.stop()
    latencies = [x for group in per_process for x in group]
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "benchmark": "ingest_processes", "backend": "postgresql", "processes": processes,
        "clients": clients, "requests": len(latencies),
        "req_per_s": round(len(latencies) / elapsed),
        "req_per_s_by_process": [round(len(group) / elapsed) for group in per_process],
        "p50_ms": round(quantiles[49] * 1000, 2), "p99_ms": round(quantiles[98] * 1000, 2),
        "server_cpu_ms_per_request": round(1000 * cpu / max(len(latencies), 1), 3),
        "server_cores_busy": round(cpu / elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    per_booklet = int(1200 * (args.seconds + args.warmup) / args.clients) + 1
    cluster = PgCluster.start(durable=True)
    try:
        for processes in (1, 2):
            workdir = Path(tempfile.mkdtemp(prefix="secure-msg-ingest-processes-"))
            try:
                dsn = cluster.create_database(f"ingest{processes}")
                result = asyncio.run(run(workdir, dsn, processes, args.clients, args.seconds,
                                         args.warmup, per_booklet))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            print(json.dumps(result), flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
