"""Ingest through the full stack, against the bare ceiling (bench/ingest_baseline.py) in one run.

    .venv/bin/python bench/ingest.py [--seconds 10] [--clients 64] [--warmup 2]

Full stack: the real server (`secure-msg serve` as a subprocess, secure_msg.testing.server_process)
on loopback; 64 concurrent keep-alive clients, one per booklet, each posting valid signed 2 KiB
entry envelopes (`POST /api/booklets/{id}/entries`, bearer auth): the server authenticates, checks
membership, verifies the signature and the recipient set, checks the chain, commits durably
(group commit) with an audit event, and fans the event out to two WebSocket listeners on
/api/live (the therapist and one guardian, who are readers of every entry).

Set-up, not timed: one therapist and two guardians enroll through the real API (the therapist's
invitation comes from `secure-msg admin invite`); the therapist opens 64 booklets and invites both
guardians into each (they enroll once, then `Client.accept` the other links). Then every booklet's
chain is sealed offline: entry n+1's prev_hash is entry_hash(entry n), authors take turns
(therapist, guardian A, guardian B), each sealed to the three members. The load generator only
sends pre-built request bodies, so its own cost is an HTTP client's.

The baseline runs first, in the same invocation, through ingest_baseline.run (the same load
generator shape: one process, aiohttp client, 64 connections).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import ingest_baseline

from secure_msg.client import Client, Profile
from secure_msg.client.http import b64d, b64e
from secure_msg.crypto import envelope
from secure_msg.crypto.envelope import KIND_IDS
from secure_msg.crypto.keys import AccountKeys
from secure_msg.crypto.payloads import encode_payload
from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_process import ServerProcess, start_server

PASSWORD = "bench password, not a secret"  # noqa: S105 - throw-away accounts
ENVELOPE_BYTES = 2048


def admin_invite(server: ServerProcess, name: str) -> str:
    """`secure-msg admin invite` against the server's database, as an operator would."""
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", "therapist", "--name", name, "--json"],
        check=True, capture_output=True, text=True, timeout=60, env={**os.environ, **server.env},
    )
    link: str = json.loads(out.stdout)["link"]
    return server.base_url + link[link.index("/enroll/"):]


def local_link(server: ServerProcess, link: str) -> str:
    return server.base_url + link[link.index("/enroll/"):]


@dataclass
class Chain:
    """One booklet's pre-sealed entries, posted in order by one load-generator client."""

    booklet_id: str
    bodies: list[tuple[str, bytes]]  # (bearer token, JSON body)
    next: int = 0


@dataclass
class Fixture:
    people: list[Client]
    chains: list[Chain]
    envelope_bytes: int
    body_bytes: int


async def _set_up(server: ServerProcess, http: aiohttp.ClientSession, booklets: int
                  ) -> tuple[list[Client], list[str]]:
    therapist = Client(Profile(), http)
    await therapist.enroll(admin_invite(server, "Bench Therapist"), "bench-t", PASSWORD)
    guardians = [Client(Profile(), http), Client(Profile(), http)]
    booklet_ids = []
    for n in range(booklets):
        booklet = await therapist.create_booklet(f"Booklet {n}")
        booklet_ids.append(booklet)
        for i, guardian in enumerate(guardians):
            invited = await therapist.invite(booklet, "guardian", name=f"Guardian {i}")
            link = local_link(server, invited["link"])
            if n == 0:
                await guardian.enroll(link, f"bench-g{i}", PASSWORD)
            else:
                await guardian.accept(link)
    return [therapist, *guardians], booklet_ids


def _text_for(size: int, author: AccountKeys, recipients: list[tuple[bytes, bytes]]) -> str:
    """A note text whose sealed envelope is `size` bytes."""
    text_len = size
    for _ in range(3):
        sealed = envelope.seal_entry(
            author, booklet_id=b"\0" * 16, entry_id=b"\0" * 16, kind=KIND_IDS["note"],
            sequence=1, prev_hash=envelope.ZERO_HASH, created_at=0,
            plaintext=encode_payload("note", text="x" * text_len), recipients=recipients,
        )
        text_len += size - len(sealed)
    return "x" * text_len


async def build(server: ServerProcess, http: aiohttp.ClientSession, booklets: int,
                per_booklet: int) -> Fixture:
    people, booklet_ids = await _set_up(server, http, booklets)
    therapist = people[0]
    members = await therapist.members(booklet_ids[0])
    recipients = [(bytes.fromhex(m.account_id), m.encryption_key) for m in members]
    authors = [(c.api.token or "", c._me()) for c in people]
    text = _text_for(ENVELOPE_BYTES, authors[0][1], recipients)
    chains = []
    sizes: list[tuple[int, int]] = []
    for booklet_id in booklet_ids:
        head = await therapist.api.call("GET", f"/api/booklets/{booklet_id}/head")
        prev, seq = b64d(head["last_hash"]), head["last_seq"]
        bodies = []
        for n in range(per_booklet):
            token, keys = authors[n % len(authors)]
            seq += 1
            sealed = envelope.seal_entry(
                keys, booklet_id=bytes.fromhex(booklet_id), entry_id=os.urandom(16),
                kind=KIND_IDS["note"], sequence=seq, prev_hash=prev,
                created_at=time.time_ns() // 1_000_000,
                plaintext=encode_payload("note", text=text), recipients=recipients,
            )
            prev = envelope.entry_hash(sealed)
            body = json.dumps({"envelope": b64e(sealed)}).encode()
            bodies.append((token, body))
            sizes.append((len(sealed), len(body)))
        chains.append(Chain(booklet_id, bodies))
    return Fixture(people, chains, sizes[0][0], sizes[0][1])


@dataclass
class Listener:
    events: int = 0
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


async def _listen(http: aiohttp.ClientSession, url: str, token: str, out: Listener) -> None:
    async with http.ws_connect(url) as ws:
        await ws.send_json({"token": token})
        async for msg in ws:
            data = json.loads(msg.data)
            if data["type"] == "ready":
                out.ready.set()
            elif data["type"] == "entry":
                out.events += 1


async def _metric(http: aiohttp.ClientSession, server: ServerProcess, name: str) -> float:
    async with http.get(server.url("/metrics")) as response:
        for line in (await response.text()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def _post_chains(http: aiohttp.ClientSession, server: ServerProcess, chains: list[Chain],
                       seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    exhausted = 0
    deadline = time.perf_counter() + seconds

    async def client(chain: Chain) -> None:
        nonlocal exhausted
        url = server.url(f"/api/booklets/{chain.booklet_id}/entries")
        while time.perf_counter() < deadline:
            if chain.next >= len(chain.bodies):
                exhausted += 1
                return
            token, body = chain.bodies[chain.next]
            started = time.perf_counter()
            async with http.post(url, data=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json",
            }) as response:
                await response.read()
                if response.status != 201:
                    raise RuntimeError(f"POST got {response.status}: {await response.text()}")
            latencies.append(time.perf_counter() - started)
            chain.next += 1

    await asyncio.gather(*(client(c) for c in chains))
    return latencies, exhausted


def start_profiler(server: ServerProcess, seconds: float, out: Path | None, gil: bool = False,
                   ) -> subprocess.Popen[bytes] | None:
    """py-spy over the server for the timed run, raw format: every thread with idle time, or
    (`gil`) only the thread holding the GIL, which shows where the one core goes."""
    if out is None or server.process is None:
        return None
    py_spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [str(py_spy), "record", "-p", str(server.process.pid), "-d", str(max(1, int(seconds))),
         "--threads", "--gil" if gil else "--idle", "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def full_stack(workdir: Path, clients: int, seconds: float, warmup: float,
                     per_booklet: int, profile: Path | None = None, gil: bool = False,
                     env: dict[str, str] | None = None) -> dict[str, Any]:
    server = start_server(workdir, env=env)
    try:
        connector = aiohttp.TCPConnector(limit=clients + 8)
        async with aiohttp.ClientSession(connector=connector) as http:
            t0 = time.perf_counter()
            fixture = await build(server, http, clients, per_booklet)
            set_up_s = time.perf_counter() - t0
            listeners = [Listener(), Listener()]
            ws_url = server.url("/api/live").replace("http", "ws", 1)
            for person, listener in zip(fixture.people, listeners, strict=False):
                listener.task = asyncio.create_task(
                    _listen(http, ws_url, person.api.token or "", listener))
                await asyncio.wait_for(listener.ready.wait(), 10)
            await _post_chains(http, server, fixture.chains, warmup)
            await asyncio.sleep(0.2)  # let the warm-up's events and audit writes settle
            commits0 = await _metric(http, server, "secure_msg_db_commits_total")
            jobs0 = await _metric(http, server, "secure_msg_db_write_jobs_total")
            events0 = [listener.events for listener in listeners]
            profiler = start_profiler(server, seconds - 1, profile, gil)
            pid = server.process.pid if server.process else 0
            cpu0 = ingest_baseline.cpu_seconds(pid)
            started = time.perf_counter()
            latencies, exhausted = await _post_chains(http, server, fixture.chains, seconds)
            elapsed = time.perf_counter() - started
            cpu = ingest_baseline.cpu_seconds(pid) - cpu0
            if profiler is not None:
                profiler.wait(timeout=30)
            await asyncio.sleep(0.5)  # events still in flight to the listeners
            commits = await _metric(http, server, "secure_msg_db_commits_total") - commits0
            jobs = await _metric(http, server, "secure_msg_db_write_jobs_total") - jobs0
            events = [listener.events - e for listener, e in zip(listeners, events0, strict=True)]
            for listener in listeners:
                if listener.task is not None:
                    listener.task.cancel()
    finally:
        server.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "benchmark": "ingest_full_stack", "clients": clients,
        "envelope_bytes": fixture.envelope_bytes, "request_body_bytes": fixture.body_bytes,
        "requests": len(latencies), "req_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(quantiles[49] * 1000, 2), "p99_ms": round(quantiles[98] * 1000, 2),
        "writes_per_commit": round(jobs / max(commits, 1), 1),
        "server_cpu_ms_per_request": round(1000 * cpu / max(len(latencies), 1), 3),
        "server_cores_busy": round(cpu / elapsed, 2),
        "live_events_per_listener": events, "chains_exhausted": exhausted,
        "set_up_s": round(set_up_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--per-booklet", type=int, default=0,
                        help="entries sealed per booklet (default: enough for ~1 200 req/s)")
    parser.add_argument("--workdir", type=Path, help="keep the server's files here")
    parser.add_argument("--py-spy", type=Path, dest="profile",
                        help="record a py-spy profile of the server's timed run to this file")
    parser.add_argument("--py-spy-gil", action="store_true",
                        help="profile only the thread holding the GIL")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the ceiling (for profiling only: no ratio is printed)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: the server on a throwaway cluster (fsync on)")
    args = parser.parse_args()
    per_booklet = args.per_booklet or int(1200 * (args.seconds + args.warmup) / args.clients) + 1
    baseline = None
    if not args.no_baseline:
        baseline = ingest_baseline.run(args.clients, args.seconds, args.warmup)
        print(json.dumps(baseline), flush=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="secure-msg-ingest-"))
    cluster = PgCluster.start(durable=True) if args.backend == "postgresql" else None
    env = None
    if cluster is not None:
        env = {"SECURE_MSG_STORAGE_BACKEND": "postgresql",
               DATABASE_URL_ENV: cluster.create_database("ingest")}
    try:
        full = asyncio.run(full_stack(workdir, args.clients, args.seconds, args.warmup,
                                      per_booklet, args.profile, args.py_spy_gil, env))
        full["backend"] = args.backend
    finally:
        if cluster is not None:
            cluster.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(full), flush=True)
    if baseline is None:
        return
    ratio = full["req_per_s"] / max(int(str(baseline["req_per_s"])), 1)
    base_cpu = float(str(baseline["server_cpu_ms_per_request"]))
    cpu_ratio = base_cpu / full["server_cpu_ms_per_request"]
    print(json.dumps({
        "ratio_req_per_s": round(ratio, 3), "target_ratio": 0.5,
        "ratio_server_cpu_per_request": round(cpu_ratio, 3),
        "p99_ms": full["p99_ms"], "target_p99_ms": 50,
        "meets_targets": ratio >= 0.5 and full["p99_ms"] <= 50,
    }))


if __name__ == "__main__":
    main()
