"""What counting a failed login costs: the limiter in memory, or in the database (issue 18).

A failed login reserves three counts (name+address, name, address) before its Argon2id work
and keeps them. With `SharedFailures` that reservation is one write transaction: on SQLite
through the group-commit writer (WAL, synchronous=FULL), on PostgreSQL through the writer that
takes the global advisory write lock (a throwaway cluster with fsync on). Reported per attempt:
one at a time (each pays its own commit) and 32 at once (they share commits), next to one
Argon2id verification at the default parameters, which every failed login costs anyway.

Run: python bench/login_limit_cost.py [--n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from secure_msg.clock import SystemClock
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.crypto.verifier import Argon2Params, check_secret, hash_secret
from secure_msg.services.login_limits import LoginLimits, LoginLimitSettings, Purpose
from secure_msg.services.rate_limit import FailureBook, MemoryFailures
from secure_msg.services.shared_limits import SharedFailures
from secure_msg.storage.db import Database, SqliteDatabase
from secure_msg.testing.pg_cluster import PgCluster

SETTINGS = LoginLimitSettings(per_name_and_client=5, per_name=20, per_client=10,
                              window_seconds=900)


async def _per_attempt(book: FailureBook, n: int, concurrency: int, tag: str) -> float:
    limits = LoginLimits(book, SETTINGS)
    start = time.perf_counter()
    for i in range(0, n, concurrency):
        await asyncio.gather(*(
            limits.begin(Purpose.LOGIN, f"{tag}{j}", f"10.0.{j // 250}.{j % 250}")
            for j in range(i, min(n, i + concurrency))))
    return (time.perf_counter() - start) / n


async def _measure(name: str, book: FailureBook, n: int) -> None:
    one = await _per_attempt(book, n, 1, "a")
    many = await _per_attempt(book, n, 32, "b")
    print(f"{name:34} {one * 1e3:8.3f} ms one at a time   {many * 1e3:8.3f} ms 32 at once")


async def main(n: int) -> None:
    clock = SystemClock()
    vault = Vault(system_rng(32), system_rng(32), system_rng)
    params = Argon2Params(ops=3, mem_bytes=67_108_864)
    stored = hash_secret(b"\x01" * 32, params)
    start = time.perf_counter()
    for _ in range(5):
        check_secret(stored, b"\x02" * 32)
    print(f"{'Argon2id verify (t=3, 64 MiB)':34} {(time.perf_counter() - start) / 5 * 1e3:8.3f} ms")
    await _measure("memory", MemoryFailures(clock), n)
    with tempfile.TemporaryDirectory() as tmp:
        db: Database = await SqliteDatabase.open(Path(tmp) / "bench.db")
        try:
            await _measure("SQLite (shared, synchronous=FULL)", SharedFailures(db, clock, vault), n)
        finally:
            await db.close()
    cluster = PgCluster.start(durable=True)
    try:
        from secure_msg.storage.pg_db import PgDatabase

        pg = await PgDatabase.open_dsn(cluster.create_database("bench"))
        try:
            await _measure("PostgreSQL (shared, fsync on)", SharedFailures(pg, clock, vault), n)
        finally:
            await pg.close()
    finally:
        cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    asyncio.run(main(parser.parse_args().n))
