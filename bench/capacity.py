"""The measured inputs of docs/capacity.md that docs/performance.md does not already give.

    .venv/bin/python bench/capacity.py [--booklets 40] [--entries 100] [--envelope 1024]
                                       [--rate 100] [--logins 40] [--notices 2000]

All against the real server (`secure-msg serve`, SQLite, one process) on this machine; CPU is the
server process's own (user + system over all its threads, /proc), less what it burns idle over
the same wall time (measured just before), divided by the requests.

1. **Database size per booklet and per entry.** One therapist and two guardians enroll through
   the API (bench/ingest.py's set-up: every booklet has the therapist and both guardians as
   members, joined by invitation); the booklets' chains are sealed with the Python client's
   envelope code (note entries of `--envelope` bytes to the three members, authors in turn) and
   posted through the API. File sizes (database + WAL, after the server stops and the WAL is
   checkpointed) are read empty, after the booklets are set up, after the entries, and after
   the reads of part 2 (each page read leaves an audit record of the access log).
2. **CPU per post and per page read at a modest fixed rate** (`--rate`/s, open loop), the load a
   county's peak hour puts on a server, not its ceiling (docs/performance.md has the ceilings):
   posts are the sealed entries above; reads are `GET /api/booklets/{id}/entries?before=…&
   limit=50` (a booklet's newest page) by the therapist.
3. **CPU per login at the default Argon2 cost** (`[argon2]` t=3, m=64 MiB, which the test config
   lowers): `--logins` logins one after the other through `Client.login` (its PBKDF2 runs in this
   process, not the server's), and the database bytes they add (a session row and an audit
   event each).
4. **CPU per SMS notice**: bench/outbox.py's backlog server (`--notices` notices queued while it is
   stopped, the local Twilio-compatible server in its own process, send rate 1,000/s): the
   server's CPU from its start until all are handed over, less a server without a backlog over
   the same wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import ingest
import outbox
from ingest_baseline import cpu_seconds

from secure_msg.client import Client, Profile
from secure_msg.crypto.rng import system_rng
from secure_msg.server_keys import generate_key_files
from secure_msg.testing.server_process import ServerProcess, start_server, write_test_config

IDLE_SECONDS = 3.0
NOTICE_RATE = 1000  # per second: the drain is then the sends' own pace


def db_bytes(server: ServerProcess) -> int:
    """Database + WAL once the WAL is checkpointed into the file (the server is stopped)."""
    with sqlite3.connect(server.db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in server.db_files())


def table_bytes(server: ServerProcess) -> dict[str, int]:
    """Bytes per table and index (dbstat), where this SQLite has it."""
    try:
        with sqlite3.connect(server.db_path) as conn:
            rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"
                                " ORDER BY 2 DESC").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {name: int(size) for name, size in rows}


class CpuMeter:
    """Server CPU for a stretch of work, less the idle rate measured just before it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    async def idle_rate(self) -> float:
        c0, t0 = cpu_seconds(self.pid), time.perf_counter()
        await asyncio.sleep(IDLE_SECONDS)
        return (cpu_seconds(self.pid) - c0) / (time.perf_counter() - t0)

    async def per_op(self, work: Any, ops: int) -> dict[str, float]:
        idle = await self.idle_rate()
        c0, t0 = cpu_seconds(self.pid), time.perf_counter()
        await work
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(self.pid) - c0
        return {"ops": ops, "wall_s": round(wall, 2), "cpu_s": round(cpu, 3),
                "idle_cpu_per_s": round(idle, 4),
                "cpu_ms_per_op": round(1000 * (cpu - idle * wall) / ops, 3)}


async def paced(calls: list[Any], rate: float) -> None:
    """Start call i at t0 + i/rate (open loop) and wait for all."""
    t0 = time.perf_counter()
    tasks = []
    for i, call in enumerate(calls):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(call()))
    await asyncio.gather(*tasks)


async def size_and_requests(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    ingest.ENVELOPE_BYTES = args.envelope
    server = start_server(workdir)
    server.stop()
    empty = db_bytes(server)
    server.start()
    assert server.process is not None
    out: dict[str, Any] = {"envelope_bytes": args.envelope, "booklets": args.booklets,
                           "entries_per_booklet": args.entries}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
            fixture = await ingest.build(server, http, args.booklets, args.entries)
            server.stop()
            set_up = db_bytes(server)
            server.start()
            meter = CpuMeter(server.process.pid)
            out["request_body_bytes"] = fixture.body_bytes

            def post(chain: ingest.Chain, n: int) -> Any:
                token, body = chain.bodies[n]

                async def call() -> None:
                    async with http.post(
                        server.url(f"/api/booklets/{chain.booklet_id}/entries"), data=body,
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": "application/json"}) as response:
                        if response.status != 201:
                            raise RuntimeError(f"POST {response.status}: {await response.text()}")
                        await response.read()
                return call

            # Entry n of every booklet before entry n+1 of any: each booklet's chain in order,
            # and at most one post per booklet in flight (a booklet's posts are serial anyway).
            rounds = [[post(c, n) for c in fixture.chains] for n in range(args.entries)]

            async def post_all() -> None:
                for calls in rounds:
                    await paced(calls, args.rate)

            out["post"] = await meter.per_op(post_all(), args.booklets * args.entries)
            token = fixture.people[0].api.token

            def read(booklet_id: str) -> Any:
                async def call() -> None:
                    async with http.get(
                        server.url(f"/api/booklets/{booklet_id}/entries"
                                   f"?before={args.entries + 1}&limit=50"),
                        headers={"Authorization": f"Bearer {token}"}) as response:
                        if response.status != 200:
                            raise RuntimeError(f"GET {response.status}")
                        await response.read()
                return call

            reads = [read(fixture.chains[i % len(fixture.chains)].booklet_id)
                     for i in range(int(args.rate * 10))]
            server.stop()
            full = db_bytes(server)  # before the reads: their audit records come next
            server.start()
            assert server.process is not None
            meter = CpuMeter(server.process.pid)
            out["read_page_of_50"] = await meter.per_op(paced(reads, args.rate), len(reads))
    finally:
        server.stop()
    after_reads = db_bytes(server)
    out["bytes_per_page_read"] = round((after_reads - full) / len(reads), 1)
    entries = args.booklets * args.entries
    out["db_bytes"] = {"empty": empty, "after_set_up": set_up, "after_entries": full,
                       "after_reads": after_reads}
    out["bytes_per_booklet_set_up"] = round((set_up - empty) / args.booklets)
    out["bytes_per_entry"] = round((full - set_up) / entries)
    out["tables"] = table_bytes(server)
    return out


async def logins(workdir: Path, count: int) -> dict[str, Any]:
    """CPU per login with the shipped Argon2 cost (the test config's is lower)."""
    workdir.mkdir(parents=True)  # noqa: ASYNC240 - set-up, nothing else is running
    config = write_test_config(workdir)
    text = config.read_text().replace("opslimit = 2\nmemlimit_bytes = 19922944\n",
                                      "opslimit = 3\nmemlimit_bytes = 67108864\n")
    config.write_text(text)
    generate_key_files(workdir / "keys", system_rng)
    server = ServerProcess(workdir, config, {})
    server.start()
    assert server.process is not None
    try:
        async with aiohttp.ClientSession() as http:
            therapist = Client(Profile(), http)
            await therapist.enroll(ingest.admin_invite(server, "Login Bench"), "login-bench",
                                   ingest.PASSWORD)
            server.stop()
            before = db_bytes(server)
            server.start()
            assert server.process is not None
            meter = CpuMeter(server.process.pid)
            # The client's own PBKDF2 (≈ 0.3 s) runs between the server's Argon2 runs, so
            # the server is idle for most of the wall time: the idle rate is subtracted.

            async def all_logins() -> None:
                for _ in range(count):
                    await Client(Profile(), http).login(server.base_url, "login-bench",
                                                        ingest.PASSWORD)
            result = await meter.per_op(all_logins(), count)
    finally:
        server.stop()
    # Each login stores a session row and its audit event (login.succeeded).
    result["bytes_per_op"] = round((db_bytes(server) - before) / count, 1)
    return {"argon2": "t=3, m=64 MiB (default)", **result}


async def _server_cpu(workdir: Path, url: str, count: int, wall: float | None
                      ) -> tuple[float, float]:
    """Server CPU from just before its start until `count` notices are handed over (or, with
    `wall`, until that long after the start), and the wall time it took."""
    outbox.BACKLOG = count
    server = await outbox._backlog_server(workdir, url, NOTICE_RATE, 0)
    t0 = time.perf_counter()
    server.start()
    assert server.process is not None
    try:
        if wall is None:
            await outbox._until_sent(server, count)
        else:
            await asyncio.sleep(max(0.0, wall - (time.perf_counter() - t0)))
        return cpu_seconds(server.process.pid), time.perf_counter() - t0
    finally:
        server.stop()


async def notices(workdir: Path, count: int) -> dict[str, Any]:
    """The outbox starts sending as soon as the server runs, before it answers ready: so the
    server's whole CPU from start until the backlog is gone, less a server with no backlog
    over the same wall time since its start (start-up, imports, the idle loop)."""
    port = outbox._port()
    twilio = outbox._start_twilio(port)
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.sleep(1.0)
        loaded, wall = await _server_cpu(workdir / "loaded", url, count, None)
        empty, _ = await _server_cpu(workdir / "empty", url, 0, wall)
    finally:
        twilio.terminate()
        twilio.wait(timeout=10)
    return {"ops": count, "rate_limit_per_s": NOTICE_RATE, "wall_s": round(wall, 2),
            "cpu_s": round(loaded, 3), "cpu_s_without_backlog": round(empty, 3),
            "cpu_ms_per_op": round(1000 * (loaded - empty) / count, 3)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="secure-msg-bench-capacity-"))
    try:
        result: dict[str, Any] = {}
        if "size" in args.parts:
            result["size_and_requests"] = await size_and_requests(workdir / "size", args)
        if "login" in args.parts:
            result["login"] = await logins(workdir / "login", args.logins)
        if "notice" in args.parts:
            result["notice"] = await notices(workdir / "notice", args.notices)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--booklets", type=int, default=40)
    parser.add_argument("--entries", type=int, default=100, help="entries per booklet")
    parser.add_argument("--envelope", type=int, default=1024, help="sealed entry bytes")
    parser.add_argument("--rate", type=float, default=100.0, help="posts and reads per second")
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--parts", default="size,login,notice")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
