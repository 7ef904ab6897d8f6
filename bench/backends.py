"""Ingest and read on SQLite (1 process) and PostgreSQL (1 and 2 processes), in one run (issue 18).

    .venv/bin/python bench/backends.py [--rounds 2] [--seconds 8] [--warmup 2] [--clients 64]

Configurations, each on fresh files (SQLite) or a fresh database of one durable throwaway
cluster (secure_msg.testing.pg_cluster, fsync on, not a system service):
- `sqlite`: one `secure-msg serve`, SQLite;
- `pg1`: one `secure-msg serve` on PostgreSQL;
- `pg2`: two `secure-msg serve` processes with the same keys on one PostgreSQL database; the load
  generator splits its connections between the two ports (no proxy);
- `bare`: the ceilings the existing benches compare to, SQLite: bench/ingest_baseline.py's
  handler (one group-commit INSERT of a 2 KiB body) and bench/read.py's bare page handler
  (the API's page query on the `sqlite` run's database, no auth, no audit).
Every figure is also given as a ratio to `bare` of the same round.

Per configuration: bench/ingest.py's set-up (one therapist and two guardians enroll through the
API, `--clients` booklets with all three as members, every booklet's chain sealed offline with
the Python client, authors in turn, 2 KiB envelopes), then
1. ingest: `--clients` keep-alive connections, one booklet's chain each, in a closed loop
   (each posts its next entry when the previous is answered), without bench/ingest.py's live
   listeners (live events across processes are not on main yet);
2. read: the same number of connections reading the newest page of 50 entries of a random
   booklet (`GET /api/booklets/{id}/entries?before=…&limit=50`, the therapist's bearer token)
   of the booklets just written (≈ 150-250 entries each), closed loop;
3. paced (`ingest_paced`, `read_paced`): one more booklet's chain posted on one connection at
   20/s for 5 s, then page reads at 20/s on four connections, through the first process (the
   other idles), latency from each request's due time; CPU per request less the processes'
   idle CPU over 2 s just before. What a county's peak hour (< 1 post and ≈ 6 reads a second,
   docs/capacity.md) costs per request: one write per commit, nothing queued.
1 and 2 run by bench/fixed_rate.c in its closed-loop mode (the Python load generator costs the
server a large part of a core on this 2-core machine); with two processes, one instance per
port; the first `--warmup` seconds are not counted. 3 by its open loop.

Measured over the counted window: req/s, p50/p99 (from each request's send), the app processes'
CPU (/proc, user + system, all threads) per request, the database's CPU per request (PostgreSQL:
the cluster's postmaster and every child, user + system, plus the postmaster's reaped children,
less this bench's own lock-sampling backend; SQLite: inside the app process, so none separate),
writes per commit and commits (the servers' /metrics), the share of time the writers'
advisory lock (storage/pg_db.py WRITE_LOCK) is held (sampled from pg_locks every 5 ms), and the
machine's busy and steal share (/proc/stat) and load average; on PostgreSQL also the bytes of
database (pg_database_size) and of WAL (its position) per entry over the ingest window and per
page read over the read window.
Configurations run in a different order each round (interleaved), `bare` right after `sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import ingest
import psycopg
from ingest_baseline import cpu_seconds
from read import fixed_rate_binary

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.storage.pg_db import WRITE_LOCK
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_process import ServerProcess, start_server

BENCH = Path(__file__).parent
PAGE = 50
BARE_BODY = os.urandom(ingest.ENVELOPE_BYTES)
EXPECTED_PEAK = 1600  # req/s to seal entries for; chains that run out are reported
PACED_RATE = 20.0  # posts, then reads, per second in the paced phase (one chain: one at a time)
PACED_S = 5.0
IDLE_S = 2.0


# --- the machine and the database server, from /proc ------------------------------------------

def host_jiffies() -> tuple[int, int, int]:
    """(total, idle + iowait, steal) jiffies of all CPUs so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4], fields[7]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


class ClusterCpu:
    """CPU seconds of a PostgreSQL cluster: the postmaster, its live children and, through the
    postmaster's cutime/cstime, the children it has reaped (short-lived autovacuum workers)."""

    def __init__(self, cluster: PgCluster) -> None:
        pid_file = cluster.root / "data" / "postmaster.pid"
        self.postmaster = int(pid_file.read_text().split("\n", 1)[0])
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        own = _stat(self.postmaster)
        total = sum(int(x) for x in own[11:15])  # utime stime cutime cstime
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = _stat(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == self.postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / self.tick


class LockSampler:
    """Samples pg_locks every 5 ms from its own backend: the share of time some process holds
    the writers' advisory lock, i.e. the write transactions' share of the wall clock."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        row = self.conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        self.backend_pid = int(row[0])
        self.held = self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # A bigint advisory key shows as classid = high 32 bits, objid = low 32 bits.
        sql = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
               " AND classid = %s AND objid = %s AND objsubid = 1"
               " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        params = (WRITE_LOCK >> 32, WRITE_LOCK & 0xFFFF_FFFF)
        while not self._stop.wait(0.005):
            row = self.conn.execute(sql, params).fetchone()
            self.samples += 1
            self.held += bool(row and row[0])

    def reset(self) -> None:
        self.held = self.samples = 0

    def share(self) -> float:
        return self.held / max(self.samples, 1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.conn.close()


def pg_volume(dsn: str) -> dict[str, int]:
    """The database's size, the cluster's WAL position (bytes) and the entries stored."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_database_size(current_database()),"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,"
            " (SELECT count(*) FROM entries), (SELECT count(*) FROM audit_events)").fetchone()
    assert row is not None
    return {"db_bytes": int(row[0]), "wal_bytes": int(row[1]), "entries": int(row[2]),
            "audit_events": int(row[3])}


def volume_per(before: dict[str, int], after: dict[str, int], ops: int) -> dict[str, Any]:
    """Bytes of database and of WAL per operation between two pg_volume readings."""
    return {"ops_counted": ops,
            "db_bytes_per_op": round((after["db_bytes"] - before["db_bytes"]) / ops),
            "wal_bytes_per_op": round((after["wal_bytes"] - before["wal_bytes"]) / ops)}


@dataclass
class Meters:
    app_pids: list[int]
    cluster: ClusterCpu | None = None
    sampler: LockSampler | None = None
    metrics_urls: list[str] = field(default_factory=list)

    def snapshot(self) -> dict[str, float]:
        out = {"app": sum(cpu_seconds(pid) for pid in self.app_pids),
               "wall": time.perf_counter()}
        total, idle, steal = host_jiffies()
        out |= {"host_total": total, "host_idle": idle, "host_steal": steal}
        if self.cluster is not None:
            out["db"] = self.cluster.seconds()
            if self.sampler is not None:
                out["db"] -= cpu_seconds(self.sampler.backend_pid)
        for name in ("commits", "write_jobs"):
            out[name] = sum(_metric(url, f"secure_msg_db_{name}_total")
                            for url in self.metrics_urls)
        return out


def _metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


# --- the load generator -----------------------------------------------------------------------

@dataclass
class Load:
    """One fixed_rate instance: a port, its connections and its requests (raw HTTP/1.1)."""

    port: int
    connections: int
    requests: list[bytes]


def _post(port: int, path: str, token: str | None, body: bytes) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def _get(port: int, path: str, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n".encode()


Snapshot = dict[str, float]


def _drive(binary: Path, loads: list[Load], warmup: float, seconds: float, meters: Meters
           ) -> tuple[list[list[str]], Snapshot, Snapshot, float | None]:
    """Run every load's fixed_rate at once; snapshots at warmup and warmup + seconds after
    they start; each one's output lines, the snapshots and the write lock's held share."""
    with tempfile.TemporaryDirectory() as tmp:
        procs: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
        try:
            for n, load in enumerate(loads):
                src = Path(tmp) / f"in{n}"
                src.write_bytes(b"".join(r + b"\x1e\n" for r in load.requests))
                out: IO[bytes] = (Path(tmp) / f"out{n}").open("w+b")
                with src.open("rb") as stdin:
                    proc = subprocess.Popen(
                        [str(binary), str(load.port), "0", str(load.connections),
                         f"{warmup + seconds + 0.2:g}"],
                        stdin=stdin, stdout=out, stderr=subprocess.PIPE)
                procs.append((proc, out))
            for proc, _ in procs:
                assert proc.stderr is not None
                line = proc.stderr.readline()
                if line.strip() != b"go":
                    raise RuntimeError(f"fixed_rate: {line!r} {proc.stderr.read()[:300]!r}")
            time.sleep(warmup)
            before = meters.snapshot()
            if meters.sampler is not None:
                meters.sampler.reset()
            time.sleep(seconds)
            after = meters.snapshot()
            lock_share = meters.sampler.share() if meters.sampler is not None else None
            outputs = []
            for proc, out in procs:
                assert proc.stderr is not None
                err = proc.stderr.read()
                if proc.wait(timeout=60) != 0:
                    raise RuntimeError(f"fixed_rate failed: {err.decode()[:300]}")
                out.seek(0)
                outputs.append(out.read().decode().splitlines())
        finally:
            for proc, out in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                out.close()
    return outputs, before, after, lock_share


def _latencies(outputs: list[list[str]], lo_us: float, hi_us: float
               ) -> tuple[list[float], int, int]:
    """Latencies of the requests answered in [lo_us, hi_us) after t0; chains that ran out;
    requests answered in all (warm-up requests not included)."""
    latencies: list[float] = []
    exhausted = answered = 0
    for lines in outputs:
        if len(lines) < 2 or lines[-1] != "done":
            raise RuntimeError("fixed_rate did not finish")
        exhausted += int(lines[-2].split()[1])
        for line in lines[:-2]:
            status, latency_us, at_us = line.split()
            if not status.startswith("2"):
                raise RuntimeError(f"a request got {status}")
            answered += 1
            if lo_us <= float(at_us) < hi_us:
                latencies.append(int(latency_us) / 1e6)
    return latencies, exhausted, answered


def closed_loop(binary: Path, loads: list[Load], warmup: float, seconds: float,
                meters: Meters) -> dict[str, Any]:
    """Run the loads at once; the figures over [warmup, warmup + seconds]."""
    outputs, before, after, lock_share = _drive(binary, loads, warmup, seconds, meters)
    latencies, exhausted, answered = _latencies(outputs, warmup * 1e6,
                                                (warmup + seconds) * 1e6)
    wall = after["wall"] - before["wall"]
    q = statistics.quantiles(latencies, n=100)
    n = len(latencies)
    host_total = after["host_total"] - before["host_total"]
    figures: dict[str, Any] = {
        "requests": n, "req_per_s": round(n / seconds),
        "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2),
        "app_cpu_ms_per_request": round(1000 * (after["app"] - before["app"]) / n, 3),
        "app_cores_busy": round((after["app"] - before["app"]) / wall, 2),
        "host_busy": round(1 - (after["host_idle"] - before["host_idle"]) / host_total, 2),
        "host_steal": round((after["host_steal"] - before["host_steal"]) / host_total, 3),
        "loadavg_1m": float(Path("/proc/loadavg").read_text().split()[0]),
        "chains_exhausted": exhausted,
        "answered_with_warmup": answered + sum(load.connections for load in loads),
    }
    if "db" in after:
        db = after["db"] - before["db"]
        figures |= {"db_cpu_ms_per_request": round(1000 * db / n, 3),
                    "db_cores_busy": round(db / wall, 2)}
    commits = after["commits"] - before["commits"]
    if commits:
        jobs = after["write_jobs"] - before["write_jobs"]
        figures |= {"commits": int(commits), "writes_per_commit": round(jobs / commits, 1)}
        if lock_share is not None:
            figures |= {"write_lock_held": round(lock_share, 3),
                        "write_txn_ms": round(1000 * lock_share * wall / commits, 3)}
    return figures


def paced(binary: Path, port: int, connections: int, requests: list[bytes], rate: float,
          idle: tuple[Snapshot, Snapshot], meters: Meters) -> dict[str, Any]:
    """fixed_rate.c's open loop at `rate`/s: latency from each request's due time; CPU per
    request less what the processes burn idle (`idle`: two snapshots with no load between)."""
    if meters.sampler is not None:
        meters.sampler.reset()
    before = meters.snapshot()
    out = subprocess.run([str(binary), str(port), f"{rate:g}", str(connections)],
                         input=b"".join(r + b"\x1e\n" for r in requests),
                         capture_output=True, check=True)
    after = meters.snapshot()
    lock_share = meters.sampler.share() if meters.sampler is not None else None
    lines = out.stdout.decode().splitlines()
    if not lines or lines[-1] != "done":
        raise RuntimeError(f"fixed_rate did not finish: {out.stderr.decode()[:300]}")
    latencies = []
    for line in lines[:-1]:
        status, micros = line.split()
        if not status.startswith("2"):
            raise RuntimeError(f"a request got {status}")
        latencies.append(int(micros) / 1e6)
    wall = after["wall"] - before["wall"]
    idle_wall = idle[1]["wall"] - idle[0]["wall"]
    n = len(requests)  # the warm-up requests cost CPU inside the window too
    q = statistics.quantiles(latencies, n=100)

    def per_request(key: str) -> float:
        idle_rate = (idle[1][key] - idle[0][key]) / idle_wall
        return round(1000 * (after[key] - before[key] - idle_rate * wall) / n, 3)

    figures: dict[str, Any] = {
        "rate": rate, "requests": n, "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2), "app_cpu_ms_per_request": per_request("app"),
        "loadavg_1m": float(Path("/proc/loadavg").read_text().split()[0]),
    }
    if "db" in after:
        figures["db_cpu_ms_per_request"] = per_request("db")
    commits = after["commits"] - before["commits"]
    if commits:
        jobs = after["write_jobs"] - before["write_jobs"]
        figures |= {"commits": int(commits), "writes_per_commit": round(jobs / commits, 2)}
        if lock_share is not None:
            figures |= {"write_lock_held": round(lock_share, 3),
                        "write_txn_ms": round(1000 * lock_share * wall / commits, 3)}
    return figures


# --- the configurations -----------------------------------------------------------------------

def _start(workdir: Path, processes: int, env: dict[str, str] | None) -> list[ServerProcess]:
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


async def _fixture(server: ServerProcess, clients: int, per_booklet: int) -> ingest.Fixture:
    connector = aiohttp.TCPConnector(limit=clients + 8)
    async with aiohttp.ClientSession(connector=connector) as http:
        return await ingest.build(server, http, clients, per_booklet)


def _head(server: ServerProcess, booklet_id: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback
        server.url(f"/api/booklets/{booklet_id}/head"),
        headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return int(json.loads(response.read())["last_seq"])


def _ingest_loads(servers: list[ServerProcess], chains: list[ingest.Chain]) -> list[Load]:
    """Chain c on connection c % per-process connections of process c % processes; request k
    of a load goes on connection k % connections (fixed_rate.c's closed loop), so each
    connection posts its chain in order."""
    loads = []
    for p, server in enumerate(servers):
        mine = chains[p::len(servers)]
        port = int(server.base_url.rsplit(":", 1)[1])
        depth = min(len(c.bodies) for c in mine)
        requests = [
            _post(port, f"/api/booklets/{chain.booklet_id}/entries", *chain.bodies[j])
            for j in range(depth) for chain in mine
        ]
        loads.append(Load(port, len(mine), requests))
    return loads


def _read_loads(ports: list[int], connections: int, count: int, path_for: Any,
                token: str | None) -> list[Load]:
    per = connections // len(ports)
    return [Load(port, per, [_get(port, path_for(), token) for _ in range(count // len(ports))])
            for port in ports]


@dataclass
class Run:
    binary: Path
    clients: int
    warmup: float
    seconds: float
    cluster: PgCluster | None
    sqlite_db: dict[int, tuple[Path, str, dict[str, int]]] = field(default_factory=dict)

    @property
    def per_booklet(self) -> int:
        closed = int(EXPECTED_PEAK * (self.warmup + self.seconds + 0.5) / self.clients) + 2
        return max(closed, int(PACED_RATE * PACED_S) + 2)

    @property
    def reads(self) -> int:
        return int(3000 * (self.warmup + self.seconds + 0.5)) + self.clients

    def full(self, config: str, round_no: int) -> list[dict[str, Any]]:
        processes = 2 if config == "pg2" else 1
        workdir = Path(tempfile.mkdtemp(prefix=f"secure-msg-bench-{config}-"))
        env, cluster_cpu, sampler, dsn = None, None, None, None
        if config != "sqlite":
            assert self.cluster is not None
            dsn = self.cluster.create_database(f"{config}_r{round_no}")
            env = {"SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: dsn}
            cluster_cpu = ClusterCpu(self.cluster)
        keep = False
        try:
            servers = _start(workdir, processes, env)
            try:
                started = time.perf_counter()
                # One booklet more than connections: its chain is posted at a modest rate
                # at the end (the per-request costs a county's peak hour sees).
                fixture = asyncio.run(_fixture(servers[0], self.clients + 1, self.per_booklet))
                solo = fixture.chains.pop()
                set_up_s = time.perf_counter() - started
                if dsn is not None:
                    sampler = LockSampler(dsn)
                meters = Meters([s.process.pid for s in servers if s.process is not None],
                                cluster_cpu, sampler, [s.url("/metrics") for s in servers])
                volume0 = pg_volume(dsn) if dsn else None
                ingest_figures = closed_loop(
                    self.binary, _ingest_loads(servers, fixture.chains), self.warmup,
                    self.seconds, meters)
                volume1 = pg_volume(dsn) if dsn else None
                if volume0 and volume1:
                    ingest_figures |= volume_per(volume0, volume1,
                                                 volume1["entries"] - volume0["entries"])
                token = fixture.people[0].api.token or ""
                heads = {c.booklet_id: _head(servers[0], c.booklet_id, token)
                         for c in fixture.chains}
                booklets = sorted(heads)

                def path() -> str:
                    booklet = random.choice(booklets)
                    return f"/api/booklets/{booklet}/entries?before={heads[booklet] + 1}" \
                           f"&limit={PAGE}"

                ports = [int(s.base_url.rsplit(":", 1)[1]) for s in servers]
                read_figures = closed_loop(
                    self.binary, _read_loads(ports, self.clients, self.reads, path, token),
                    self.warmup, self.seconds, meters)
                if dsn and volume1:
                    time.sleep(1.0)  # the access log's audit batch (0.1 s) is written
                    read_figures |= volume_per(volume1, pg_volume(dsn),
                                               read_figures["answered_with_warmup"])
                paced_figures = self._paced(servers[0], solo, path, token, meters)
            finally:
                if sampler is not None:
                    sampler.close()
                for server in servers:
                    server.stop()
            if config == "sqlite":
                therapist = fixture.people[0]._me().account_id.hex()
                self.sqlite_db[round_no] = (servers[0].db_path, therapist, heads)
                keep = True
        finally:
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
        common = {"config": config, "round": round_no, "processes": processes,
                  "set_up_s": round(set_up_s, 1)}
        return [{"benchmark": "ingest", **common, "request_body_bytes": fixture.body_bytes,
                 **ingest_figures},
                {"benchmark": "read", **common, **read_figures},
                {"benchmark": "ingest_paced", **common, **paced_figures[0]},
                {"benchmark": "read_paced", **common, **paced_figures[1]}]

    def _paced(self, server: ServerProcess, solo: ingest.Chain, path: Any, token: str,
               meters: Meters) -> tuple[dict[str, Any], dict[str, Any]]:
        """Posts of one chain on one connection, then page reads on four, at PACED_RATE/s
        through one process (the other, if any, idles), after IDLE_S of no load."""
        port = int(server.base_url.rsplit(":", 1)[1])
        idle0 = meters.snapshot()
        time.sleep(IDLE_S)
        idle = (idle0, meters.snapshot())
        count = int(PACED_RATE * PACED_S)
        posts = [_post(port, f"/api/booklets/{solo.booklet_id}/entries", *body)
                 for body in solo.bodies[:count + 1]]
        posted = paced(self.binary, port, 1, posts, PACED_RATE, idle, meters)
        reads = [_get(port, path(), token) for _ in range(count + 4)]
        read = paced(self.binary, port, 4, reads, PACED_RATE, idle, meters)
        return posted, read

    def bare(self, round_no: int) -> list[dict[str, Any]]:
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            server = subprocess.Popen(
                [sys.executable, str(BENCH / "ingest_baseline.py"), "--serve",
                 str(Path(tmp) / "bench.db")], stdout=subprocess.PIPE, text=True)
            try:
                assert server.stdout is not None
                port = json.loads(server.stdout.readline())["port"]
                count = int(6000 * (self.warmup + self.seconds + 0.5)) + self.clients
                load = Load(port, self.clients,
                            [_post(port, "/ingest", None, BARE_BODY) for _ in range(count)])
                figures = closed_loop(self.binary, [load], self.warmup, self.seconds,
                                         Meters([server.pid]))
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=10)
            results.append({"benchmark": "ingest", "config": "bare", "round": round_no,
                            "processes": 1, "request_body_bytes": len(BARE_BODY), **figures})
        db_path, therapist, heads = self.sqlite_db.pop(round_no)
        booklets = sorted(heads)
        server = subprocess.Popen(
            [sys.executable, str(BENCH / "read.py"), "--serve-bare", str(db_path)],
            stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            port = json.loads(server.stdout.readline())["port"]

            def path() -> str:
                booklet = random.choice(booklets)
                return f"/bare/{booklet}?account={therapist}&before={heads[booklet] + 1}" \
                       f"&limit={PAGE}"

            figures = closed_loop(
                self.binary, _read_loads([port], self.clients, self.reads, path, None),
                self.warmup, self.seconds, Meters([server.pid]))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
            shutil.rmtree(db_path.parent.parent.parent, ignore_errors=True)
        results.append({"benchmark": "read", "config": "bare", "round": round_no,
                        "processes": 1, **figures})
        return results


def _order(configs: list[str], round_no: int) -> list[str]:
    """Round 1 in the given order, round 2 reversed, and so on; bare always after sqlite."""
    order = [c for c in configs if c != "bare"]
    if round_no % 2 == 0:
        order.reverse()
    if "bare" in configs:
        order.insert(order.index("sqlite") + 1, "bare")
    return order


def _ratios(results: list[dict[str, Any]]) -> None:
    base = {(r["benchmark"], r["round"]): r for r in results if r["config"] == "bare"}
    for r in results:
        b = base.get((r["benchmark"], r["round"]))
        if b is None or r is b:
            continue
        r["ratio_req_per_s"] = round(r["req_per_s"] / b["req_per_s"], 3)
        r["ratio_app_cpu_per_request"] = round(
            r["app_cpu_ms_per_request"] / b["app_cpu_ms_per_request"], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=64, help="connections (even)")
    parser.add_argument("--configs", default="sqlite,bare,pg1,pg2")
    parser.add_argument("--out", type=Path, help="also append each result here (JSON lines)")
    args = parser.parse_args()
    configs = args.configs.split(",")
    if "bare" in configs and "sqlite" not in configs:
        parser.error("bare reads the sqlite run's database: give both")
    with tempfile.TemporaryDirectory() as tmp:
        binary = fixed_rate_binary(Path(tmp))
        if binary is None:
            sys.exit("bench/backends.py needs a C compiler for bench/fixed_rate.c")
        needs_pg = any(c.startswith("pg") for c in configs)
        cluster = PgCluster.start(durable=True) if needs_pg else None
        run = Run(binary, args.clients, args.warmup, args.seconds, cluster)
        results: list[dict[str, Any]] = []
        try:
            for round_no in range(1, args.rounds + 1):
                for config in _order(configs, round_no):
                    got = run.bare(round_no) if config == "bare" else run.full(config, round_no)
                    for result in got:
                        print(json.dumps(result), flush=True)
                        if args.out:
                            with args.out.open("a") as f:
                                f.write(json.dumps(result) + "\n")
                    results += got
        finally:
            if cluster is not None:
                cluster.stop()
            for db_path, _, _ in run.sqlite_db.values():
                shutil.rmtree(db_path.parent.parent.parent, ignore_errors=True)
    _ratios(results)
    print(json.dumps({"summary": [
        {k: r.get(k) for k in ("benchmark", "config", "round", "req_per_s", "ratio_req_per_s",
                               "p50_ms", "p99_ms", "app_cpu_ms_per_request",
                               "db_cpu_ms_per_request", "write_txn_ms", "write_lock_held")}
        for r in results]}), flush=True)


if __name__ == "__main__":
    main()
