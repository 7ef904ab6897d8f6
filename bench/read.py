"""Reading the newest 50 entries of a booklet, full stack against a bare handler, in one run.

    .venv/bin/python bench/read.py [--seconds 10] [--clients 64] [--rate 500] [--keep]

Data: 1 000 000 entries in 10 000 booklets (100 each, 600-byte envelopes), 100 therapists with
100 booklets each, two guardians per booklet (20 000), every entry readable by its booklet's three
members (3 000 000 entry_access rows). A bench-only bulk loader builds it through the storage
layer's own functions (insert_account_txn, insert_booklet_txn, add_member_txn,
insert_entry_txn) in transactions of 10 000 entries on `Database.write`. Envelopes are random
bytes (the read path never opens them); the accounts' key statements are real, their password
verifiers and bundles are placeholders, so they cannot log in. Built once under
/tmp/secure-msg-bench-read (about 1.2 GB) and deleted at the end unless --keep.

Readers are real members with real sessions: before each run the loader inserts one fresh session
per reader (insert_session_txn with the SHA-256 of a random bearer token, as login does) for 64 of
the therapists; each request picks one of that therapist's 100 booklets at random, so the run
touches 6 400 booklets.

1. Closed loop, 64 concurrent readers, same process shape as bench/ingest_baseline.py:
   - bare: an aiohttp subprocess whose one handler runs the API's page query
     (`entry_texts_for_txn`) the way the API does (`Database.read_now`, on the event loop's own
     connection) and answers the same JSON (the stored entry texts joined by `page_json`); no
     auth, membership check or audit;
   - full: `secure-msg serve` (secure_msg.testing.server_process) on the same files:
     `GET /api/booklets/{id}/entries?before=101&limit=50` with `Authorization: Bearer …`.
2. Open loop at a fixed rate (default 500 requests/s) against each: latency from the request's
   scheduled start, so a stall also counts for the requests queued behind it. Run by
   bench/fixed_rate.c (compiled into the work directory with the machine's C compiler; the
   Python open loop `open_loop` is the fallback without one), whose own floor on this machine
   is p50 0.33-0.42 ms and p99 0.9-3.6 ms against a static 45 KB body, where the Python load
   generator's is p50 1.5 ms and p99 4.7-6.2 ms: the Python one could not tell 5 ms from noise.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from ingest_baseline import cpu_seconds, serve_until_sigterm

from secure_msg.crypto.keys import PBKDF2_ITERATIONS, AccountKeys
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.model.accounts import NewAccount, hash_token
from secure_msg.model.booklets import StoredEntry
from secure_msg.model.entry_json import entry_text, page_json
from secure_msg.model.roles import Role
from secure_msg.server_keys import generate_key_files, key_files_present, load_vault
from secure_msg.storage import accounts as account_store
from secure_msg.storage import booklets as store
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn
from secure_msg.testing.server_process import start_server, write_test_config

WORKDIR = Path(tempfile.gettempdir()) / "secure-msg-bench-read"
THERAPISTS = 100
BOOKLETS_PER_THERAPIST = 100
ENTRIES_PER_BOOKLET = 100
FIXED_RATE_C = Path(__file__).with_name("fixed_rate.c")
ENVELOPE_BYTES = 600
PAGE = 50
BEFORE = ENTRIES_PER_BOOKLET + 1  # newest page
DONE = "built-v5.json"  # schema 0005: entries carry their JSON; older builds are rebuilt


def _account(keys: AccountKeys, role: Role, login: str, now_ms: int) -> NewAccount:
    placeholder = b"bench: cannot log in"
    return NewAccount(
        keys.account_id, role, login, None, None, None, "en", os.urandom(16), PBKDF2_ITERATIONS,
        placeholder, placeholder, placeholder, placeholder, keys.statement(now_ms).encode(),
        keys.identity_public, keys.encryption_public,
    )


def _fresh_workdir(workdir: Path) -> Vault:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    write_test_config(workdir)
    keys_dir = workdir / "keys"
    if not key_files_present(keys_dir):
        generate_key_files(keys_dir, system_rng)
    return load_vault(keys_dir, system_rng)


async def build(workdir: Path) -> dict[str, Any]:
    """Bulk-load the database (once); returns {therapist id hex: [booklet id hex, …]}."""
    cached = _cached_layout(workdir)
    if cached is not None:
        return cached
    vault = _fresh_workdir(workdir)
    db = await Database.open(workdir / "var" / "secure-msg.db")
    now = time.time_ns() // 1_000_000
    started = time.perf_counter()
    layout: dict[str, list[str]] = {}
    for t in range(THERAPISTS):
        therapist = AccountKeys.generate(os.urandom(16))
        guardians = [AccountKeys.generate(os.urandom(16))
                     for _ in range(2 * BOOKLETS_PER_THERAPIST)]
        booklet_ids = [os.urandom(16) for _ in range(BOOKLETS_PER_THERAPIST)]
        layout[therapist.account_id.hex()] = [b.hex() for b in booklet_ids]

        def txn(conn: Txn, t: int = t, therapist: AccountKeys = therapist,
                guardians: list[AccountKeys] = guardians,
                booklet_ids: list[bytes] = booklet_ids) -> None:
            account_store.insert_account_txn(
                conn, vault, _account(therapist, Role.THERAPIST, f"bench-t{t}", now), now)
            for g, keys in enumerate(guardians):
                account_store.insert_account_txn(
                    conn, vault, _account(keys, Role.GUARDIAN, f"bench-g{t}-{g}", now), now)
            for b, booklet_id in enumerate(booklet_ids):
                store.insert_booklet_txn(conn, booklet_id, therapist.account_id, now)
                members = [therapist.account_id, guardians[2 * b].account_id,
                           guardians[2 * b + 1].account_id]
                store.add_member_txn(conn, booklet_id, members[0], Role.THERAPIST, now)
                for guardian in members[1:]:
                    store.add_member_txn(conn, booklet_id, guardian, Role.GUARDIAN, now)
                for seq in range(1, ENTRIES_PER_BOOKLET + 1):
                    entry = StoredEntry(
                        booklet_id, seq, os.urandom(16), members[seq % 3], 1 if seq == 1 else 2,
                        now, now, os.urandom(32), os.urandom(ENVELOPE_BYTES),
                    )
                    store.insert_entry_txn(conn, entry, members, text=entry_text(entry))

        await db.write(txn)
        if t % 10 == 9:
            print(f"loaded {(t + 1) * BOOKLETS_PER_THERAPIST * ENTRIES_PER_BOOKLET} entries"
                  f" in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    await db.write(lambda c: c.execute("ANALYZE"))
    await db.close()
    _save_layout(workdir, layout)
    return layout


def _cached_layout(workdir: Path) -> dict[str, Any] | None:
    done = workdir / DONE
    return json.loads(done.read_text()) if done.exists() else None


def _save_layout(workdir: Path, layout: dict[str, list[str]]) -> None:
    (workdir / DONE).write_text(json.dumps(layout))


async def new_sessions(workdir: Path, therapists: list[str]) -> list[str]:
    """One fresh session per reader, stored as login stores it (token hash, expiry)."""
    db = await Database.open(workdir / "var" / "secure-msg.db", readers=1)
    tokens = [os.urandom(32).hex() for _ in therapists]
    now = time.time_ns() // 1_000_000

    def txn(conn: Txn) -> None:
        for token, therapist in zip(tokens, therapists, strict=True):
            account_store.insert_session_txn(
                conn, hash_token(token), bytes.fromhex(therapist), now, now + 3_600_000)

    await db.write(txn)
    await db.close()
    return tokens


async def _serve_bare(db_path: Path) -> None:
    db = await Database.open(db_path)

    async def entries(request: web.Request) -> web.Response:
        rows = await db.read_now(functools.partial(
            store.entry_texts_for_txn, booklet_id=bytes.fromhex(request.match_info["booklet_id"]),
            account_id=bytes.fromhex(request.query["account"]),
            before=int(request.query["before"]), limit=int(request.query["limit"]),
        ))
        return web.json_response(text=page_json([t or "" for _, t in rows],
                                                 rows[-1][0] if rows else 0))

    app = web.Application()
    app.router.add_get("/bare/{booklet_id}", entries)
    await serve_until_sigterm(app)
    await db.close()


Request = Callable[[aiohttp.ClientSession], Awaitable[None]]


def _path(layout: dict[str, Any], therapist: str, bare: bool) -> str:
    """The newest page of a random booklet of the therapist's."""
    booklet = random.choice(layout[therapist])
    if bare:
        return f"/bare/{booklet}?account={therapist}&before={BEFORE}&limit={PAGE}"
    return f"/api/booklets/{booklet}/entries?before={BEFORE}&limit={PAGE}"


def _requests(base: str, layout: dict[str, Any], readers: list[tuple[str, str]], bare: bool
              ) -> list[Callable[[aiohttp.ClientSession], Awaitable[None]]]:
    """One request maker per reader: a random booklet of that reader's, newest page."""

    def maker(therapist: str, token: str) -> Request:
        headers = {} if bare else {"Authorization": f"Bearer {token}"}

        async def request(http: aiohttp.ClientSession) -> None:
            async with http.get(base + _path(layout, therapist, bare), headers=headers
                                ) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET got {response.status}: {body[:300]!r}")

        return request

    return [maker(therapist, token) for therapist, token in readers]


async def closed_loop(requests: list[Request], seconds: float) -> tuple[list[float], float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(http: aiohttp.ClientSession, request: Request) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await request(http)
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=len(requests))
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http, r) for r in requests))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


async def open_loop(requests: list[Request], rate: float, seconds: float) -> list[float]:
    """Requests at fixed times t0 + i/rate; latency counted from the scheduled time."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as http:
        # Open a keep-alive connection per reader before the clock starts, all at once: one
        # after the other they all reuse the first, and the timed run then paid for opening
        # connections (a server keeps its clients' connections open; wrk2 does the same).
        await asyncio.gather(*(request(http) for request in requests))
        gc.collect()
        gc.freeze()  # the load generator's own collections are not the server's latency
        t0 = time.perf_counter()
        tasks = []

        async def one(request: Request, at: float) -> None:
            await request(http)
            latencies.append(time.perf_counter() - at)

        for i in range(int(rate * seconds)):
            at = t0 + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(requests[i % len(requests)], at)))
        await asyncio.gather(*tasks)
    gc.unfreeze()
    return latencies


def fixed_rate_binary(workdir: Path) -> Path | None:
    """bench/fixed_rate.c compiled into the work directory, or None without a C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    binary = workdir / "fixed_rate"
    if not binary.exists() or binary.stat().st_mtime < FIXED_RATE_C.stat().st_mtime:
        subprocess.run([compiler, "-O2", "-o", str(binary), str(FIXED_RATE_C)], check=True)
    return binary


def fixed_rate_c(binary: Path, base: str, layout: dict[str, Any],
                 readers: list[tuple[str, str]], bare: bool, rate: float, seconds: float
                 ) -> list[float]:
    """The open loop of `open_loop`, run by bench/fixed_rate.c: one warm connection per
    reader, request i due at t0 + i/rate, latency from its due time."""
    port = urllib.parse.urlsplit(base).port
    count = len(readers) + int(rate * seconds)
    requests = []
    for i in range(count):
        therapist, token = readers[i % len(readers)]
        auth = "" if bare else f"Authorization: Bearer {token}\r\n"
        requests.append(f"GET {_path(layout, therapist, bare)} HTTP/1.1\r\n"
                        f"Host: 127.0.0.1:{port}\r\n{auth}\r\n\x1e\n")
    out = subprocess.run([str(binary), str(port), f"{rate:g}", str(len(readers))],
                         input="".join(requests).encode(), capture_output=True, check=True)
    lines = out.stdout.decode().splitlines()
    if not lines or lines[-1] != "done":
        raise RuntimeError(f"fixed_rate did not finish: {out.stderr.decode()[:300]}")
    latencies = []
    for line in lines[:-1]:
        status, micros = line.split()
        if status != "200":
            raise RuntimeError(f"GET got {status}")
        latencies.append(int(micros) / 1e6)
    return latencies


def _summary(name: str, latencies: list[float], elapsed: float | None = None) -> dict[str, Any]:
    q = statistics.quantiles(latencies, n=100)
    out: dict[str, Any] = {"run": name, "requests": len(latencies)}
    if elapsed is not None:
        out["req_per_s"] = round(len(latencies) / elapsed)
    out.update({"p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2)})
    return out


def warm_page_cache(path: Path) -> float:
    """Read the database file once so both servers start with it in the OS page cache (the first
    one measured would otherwise pay for the disk reads); returns seconds taken."""
    started = time.perf_counter()
    with path.open("rb") as f:
        while f.read(1 << 20):
            pass
    return time.perf_counter() - started


def _measure(base: str, layout: dict[str, Any], readers: list[tuple[str, str]], bare: bool,
             args: argparse.Namespace, pid: int, binary: Path | None
             ) -> list[dict[str, Any]]:
    name = "bare" if bare else "full"
    requests = _requests(base, layout, readers, bare)
    asyncio.run(closed_loop(requests, args.warmup))
    cpu0 = cpu_seconds(pid)
    latencies, elapsed = asyncio.run(closed_loop(requests, args.seconds))
    cpu = cpu_seconds(pid) - cpu0
    closed = _summary(f"{name}, {len(readers)} concurrent", latencies, elapsed)
    closed["server_cpu_ms_per_request"] = round(1000 * cpu / max(len(latencies), 1), 3)
    closed["server_cores_busy"] = round(cpu / elapsed, 2)
    print(json.dumps(closed), flush=True)
    if binary is None:
        fixed = _summary(f"{name}, {args.rate:g} req/s (Python load generator)", asyncio.run(
            open_loop(requests, args.rate, args.seconds)))
    else:
        fixed = _summary(f"{name}, {args.rate:g} req/s", fixed_rate_c(
            binary, base, layout, readers, bare, args.rate, args.seconds))
    print(json.dumps(fixed), flush=True)
    return [closed, fixed]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--keep", action="store_true", help="keep the built database")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        asyncio.run(_serve_bare(args.serve_bare))
        return
    try:
        started = time.perf_counter()
        layout = asyncio.run(build(args.workdir))
        print(json.dumps({"built_or_cached_s": round(time.perf_counter() - started, 1)}),
              flush=True)
        therapists = sorted(layout)[: args.clients]
        tokens = asyncio.run(new_sessions(args.workdir, therapists))
        readers = list(zip(therapists, tokens, strict=True))
        db_path = args.workdir / "var" / "secure-msg.db"
        binary = fixed_rate_binary(args.workdir)
        print(json.dumps({"page_cache_warmed_s": round(warm_page_cache(db_path), 1)}),
              flush=True)

        bare = subprocess.Popen(
            [sys.executable, __file__, "--serve-bare", str(db_path)],
            stdout=subprocess.PIPE, text=True,
        )
        assert bare.stdout is not None
        port = json.loads(bare.stdout.readline())["port"]
        try:
            bare_closed, bare_fixed = _measure(
                f"http://127.0.0.1:{port}", layout, readers, True, args, bare.pid, binary)
        finally:
            bare.send_signal(signal.SIGTERM)
            bare.wait(timeout=10)

        server = start_server(args.workdir)
        try:
            assert server.process is not None
            full_closed, full_fixed = _measure(server.base_url, layout, readers, False, args,
                                               server.process.pid, binary)
        finally:
            server.stop()
        ratio = full_closed["req_per_s"] / max(bare_closed["req_per_s"], 1)
        print(json.dumps({
            "ratio_req_per_s": round(ratio, 3), "target_ratio": 0.5,
            "fixed_rate_p99_ms": full_fixed["p99_ms"], "target_p99_ms": 5,
            "meets_targets": ratio >= 0.5 and full_fixed["p99_ms"] <= 5,
            "bare_fixed_rate_p99_ms": bare_fixed["p99_ms"],
        }))
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
