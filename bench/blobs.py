"""Uploading and downloading a 25 MB attachment: the full server against plain aiohttp, and the
blob directory against blobs in SQLite, in one run.

    .venv/bin/python bench/blobs.py [--runs 5] [--mb 25]

The body is the blob of a 25 MiB file of random bytes (26 220 840 bytes, encrypted once for
the booklet: the server checks the header and the length, never opens a chunk), sent by an
aiohttp client in 64 KiB pieces from memory with its Content-Length, and read back to memory.
Three servers, each a subprocess on loopback:

- bare: plain aiohttp whose handler streams `request.content` to a file in 64 KiB writes,
  fsyncs it and renames it (what any careful upload handler does), and answers a download with
  `web.FileResponse`; no authentication, database or accounting. The baseline.
- full: `secure-msg serve` (secure_msg.testing.server_process): POST
  /api/booklets/{id}/blobs as a member with a bearer token (membership and quota checked,
  streamed to the blob directory, sha256, fsync, atomic rename, fsync of the directory, the row
  and its audit record committed), then GET of the blob (sendfile).
- sqlite: the other candidate, blobs in the database through the service's own group-commit
  writer (`Database.write`): the body streamed in 1 MiB chunk rows, one write job per chunk (a
  transaction cannot stay open across network reads on that writer), and a download that reads
  the chunks back one `Database.read` each into a StreamResponse. Also reported: what 25 MB
  did to the database files (the WAL takes every byte before the checkpoint copies it into the
  database: written twice), and the free pages a delete leaves.

With --postgresql, a fourth server and a measurement of the part size (issue 18):

- full on PostgreSQL: `secure-msg serve` with storage.backend = "postgresql" on a throwaway
  cluster with fsync on (secure_msg.testing.pg_cluster, durable=True): the blob streamed into
  1 MiB bytea parts in a transaction of its own on the blob store's connection, committed
  before the row (storage/pg_blobs.py), and downloaded a part per query.
- parts: storage/pg_blobs.PgBlobs alone, in this process, for part sizes of 256 KiB to 4 MiB:
  upload (64 KiB pieces from memory, one transaction, COMMIT) and download (every part read
  back) of the same blob, MB/s.

For each: median throughput over --runs in MB/s (10^6 bytes), and the server's peak resident
memory (VmHWM) minus its resident memory before the first upload. Results: docs/performance.md,
"Attachments".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from ingest_baseline import cpu_seconds, serve_until_sigterm

from secure_msg.client import Client, Profile
from secure_msg.clock import SystemClock
from secure_msg.crypto.file_stream import blob_length, encrypt_file
from secure_msg.storage.db import DATABASE_URL_ENV, Database
from secure_msg.storage.pg_blobs import PgBlobs
from secure_msg.storage.txn import Txn
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_process import start_server

PIECE = 1 << 16
SQLITE_CHUNK = 1 << 20


def reset_peak(pid: int) -> None:
    """Start VmHWM again from the current RSS (Linux: clear_refs 5), so that the peak is the
    run's and not the start-up's (Argon2id's 19 MiB at enrollment, say)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


# -- the bare and sqlite servers (run as subprocesses of this script) -------------------------


async def _serve_bare(folder: Path) -> None:
    async def upload(request: web.Request) -> web.Response:
        part = folder / f"{os.urandom(8).hex()}.part"
        size = 0
        with part.open("wb") as f:
            async for chunk in request.content.iter_chunked(PIECE):
                f.write(chunk)
                size += len(chunk)
            f.flush()
            os.fsync(f.fileno())
        name = part.stem
        part.rename(folder / name)
        return web.json_response({"id": name, "size": size}, status=201)

    async def download(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(folder / request.match_info["name"],
                                headers={"Content-Type": "application/octet-stream"})

    app = web.Application()
    app.router.add_post("/upload", upload)
    app.router.add_get("/download/{name}", download)
    await serve_until_sigterm(app)


async def _serve_sqlite(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.write(lambda c: c.execute(
        "CREATE TABLE IF NOT EXISTS chunks (blob_id BLOB NOT NULL, n INTEGER NOT NULL,"
        " data BLOB NOT NULL, PRIMARY KEY (blob_id, n)) WITHOUT ROWID"))

    def insert(blob_id: bytes, n: int, data: bytes) -> Any:
        return lambda c: c.execute("INSERT INTO chunks VALUES (?, ?, ?)", (blob_id, n, data))

    async def upload(request: web.Request) -> web.Response:
        blob_id = os.urandom(16)
        buf = bytearray()
        n = size = 0
        async for chunk in request.content.iter_chunked(PIECE):
            buf += chunk
            size += len(chunk)
            if len(buf) >= SQLITE_CHUNK:
                await db.write(insert(blob_id, n, bytes(buf[:SQLITE_CHUNK])), inline=False)
                del buf[:SQLITE_CHUNK]
                n += 1
        if buf:
            await db.write(insert(blob_id, n, bytes(buf)), inline=False)
        return web.json_response({"id": blob_id.hex(), "size": size}, status=201)

    async def download(request: web.Request) -> web.StreamResponse:
        blob_id = bytes.fromhex(request.match_info["name"])
        count = await db.read(lambda c: c.execute(
            "SELECT COUNT(*), SUM(LENGTH(data)) FROM chunks WHERE blob_id = ?",
            (blob_id,)).fetchone())
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = count[1]
        await response.prepare(request)
        for n in range(count[0]):
            def chunk(c: Txn, n: int = n) -> bytes:
                row = c.execute("SELECT data FROM chunks WHERE blob_id = ? AND n = ?",
                                (blob_id, n)).fetchone()
                return bytes(row[0])

            await response.write(await db.read(chunk))
        await response.write_eof()
        return response

    async def delete_all(request: web.Request) -> web.Response:
        await db.write(lambda c: c.execute("DELETE FROM chunks"))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/upload", upload)
    app.router.add_get("/download/{name}", download)
    app.router.add_post("/delete", delete_all)
    try:
        await serve_until_sigterm(app)
    finally:
        await db.close()


# -- the client side --------------------------------------------------------------------------


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for at in range(0, len(data), PIECE):
        yield bytes(view[at : at + PIECE])


async def _up_down(http: aiohttp.ClientSession, up_url: str, down_url: str, data: bytes,
                   headers: dict[str, str]) -> tuple[float, float]:
    """(upload seconds, download seconds) of one round trip, the bytes checked."""
    head = {**headers, "Content-Type": "application/octet-stream",
            "Content-Length": str(len(data))}
    started = time.perf_counter()
    async with http.post(up_url, data=_pieces(data), headers=head) as resp:
        answer = await resp.json()
        assert resp.status == 201, answer
    up = time.perf_counter() - started
    started = time.perf_counter()
    async with http.get(down_url.format(id=answer["id"]), headers=headers) as resp:
        assert resp.status == 200
        body = await resp.read()
    down = time.perf_counter() - started
    assert body == data
    return up, down


def _subprocess(mode: str, path: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, mode, str(path)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None
    port = json.loads(proc.stdout.readline())["port"]
    return proc, port


async def _full_server(workdir: Path, http: aiohttp.ClientSession, name: str = "full",
                       env: dict[str, str] | None = None) -> tuple[Any, str, dict[str, str]]:
    server = start_server(workdir / name, env=env)
    out = subprocess.run(  # noqa: ASYNC221 - once, before anything is measured
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", "therapist", "--name", "T", "--json"],
        check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
    link = json.loads(out.stdout)["link"]
    client = Client(Profile(server=server.base_url), http)
    await client.enroll(server.base_url + link[link.index("/enroll/"):], "bench", "b" * 16)
    booklet = await client.create_booklet("Bench")
    base = f"{server.base_url}/api/booklets/{booklet}/blobs"
    return server, base, {"Authorization": f"Bearer {client.profile.token}"}


class Target:
    def __init__(self, name: str, pid: int, up: str, down: str, headers: dict[str, str]
                 ) -> None:
        self.name, self.pid, self.up, self.down, self.headers = name, pid, up, down, headers
        reset_peak(pid)
        self.rss_before = rss_kb(pid, "VmRSS")
        self.ups: list[float] = []
        self.downs: list[float] = []
        self.cpu: list[float] = []

    async def once(self, http: aiohttp.ClientSession, data: bytes) -> None:
        cpu = cpu_seconds(self.pid)
        u, d = await _up_down(http, self.up, self.down, data, self.headers)
        self.cpu.append(cpu_seconds(self.pid) - cpu)
        self.ups.append(u)
        self.downs.append(d)

    def result(self, size: int) -> dict[str, Any]:
        mb = size / 1e6
        return {
            "server": self.name, "upload_mb_s": round(mb / statistics.median(self.ups), 1),
            "download_mb_s": round(mb / statistics.median(self.downs), 1),
            "upload_s_all": [round(u, 3) for u in self.ups],
            "download_s_all": [round(d, 3) for d in self.downs],
            # Robust to a busy machine, unlike wall time: what one round trip costs the server.
            "server_cpu_ms_per_round_trip": round(statistics.median(self.cpu) * 1000),
            "rss_before_mb": round(self.rss_before / 1024, 1),
            "peak_rss_growth_mb": round((rss_kb(self.pid, "VmHWM") - self.rss_before) / 1024,
                                        1),
        }


def _db_sizes(db_path: Path) -> dict[str, int]:
    return {suffix or "db": (db_path.with_name(db_path.name + suffix).stat().st_size
                             if db_path.with_name(db_path.name + suffix).exists() else 0)
            for suffix in ("", "-wal")}


async def _parts(dsn: str, data: bytes, runs: int) -> list[dict[str, Any]]:
    """PgBlobs alone, per part size: MB/s up (streamed, committed) and down (every part)."""
    results = []
    for part in (1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22):
        store = PgBlobs(dsn, SystemClock(), orphan_age_ms=60_000, part_bytes=part)
        ups, downs = [], []
        try:
            for _ in range(runs):
                booklet, blob = os.urandom(16), os.urandom(16)
                started = time.perf_counter()
                await store.receive(booklet, blob, _pieces(data), len(data))
                ups.append(time.perf_counter() - started)
                started = time.perf_counter()
                body = await store.open(booklet, blob, len(data))
                assert body.stream is not None
                size = 0
                async for piece in body.stream(0, len(data)):
                    size += len(piece)
                downs.append(time.perf_counter() - started)
                assert size == len(data)
                await store.delete_booklet(booklet)
        finally:
            await store.close()
        mb = len(data) / 1e6
        results.append({"part_kib": part // 1024,
                        "upload_mb_s": round(mb / statistics.median(ups), 1),
                        "download_mb_s": round(mb / statistics.median(downs), 1)})
    return results


async def main(runs: int, mb: int, postgresql: bool = False) -> list[dict[str, Any]]:
    """The servers run side by side and take turns, run by run, so that the load of a shared
    machine falls on all of them alike."""
    workdir = Path(tempfile.mkdtemp(prefix="secure-msg-bench-blobs-"))
    procs: list[subprocess.Popen[str]] = []
    server = pg_server = cluster = None
    parts: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
            (workdir / "bare").mkdir()
            bare, port = _subprocess("--serve-bare", workdir / "bare")
            procs.append(bare)
            base = f"http://127.0.0.1:{port}"
            targets = [Target("bare aiohttp to disk", bare.pid, f"{base}/upload",
                              base + "/download/{id}", {})]
            server, up, headers = await _full_server(workdir, http)
            assert server.process is not None
            # A real blob: the server checks its header names the booklet (§4.7).
            booklet = up.split("/")[-2]
            data = encrypt_file(os.urandom(mb * 1024 * 1024), bytes.fromhex(booklet))[0]
            assert len(data) == blob_length(mb * 1024 * 1024)
            targets.append(Target("secure-msg (blob directory)", server.process.pid, up,
                                  up + "/{id}", headers))
            db_path = workdir / "sqlite" / "bench.db"
            db_path.parent.mkdir()
            lite, port = _subprocess("--serve-sqlite", db_path)
            procs.append(lite)
            base = f"http://127.0.0.1:{port}"
            targets.append(Target("blobs in SQLite (chunk rows)", lite.pid, f"{base}/upload",
                                  base + "/download/{id}", {}))
            if postgresql:
                cluster = PgCluster.start(durable=True)
                dsn = cluster.create_database("bench_blobs")
                pg_server, pg_up, pg_headers = await _full_server(
                    workdir, http, "full-pg",
                    {"SECURE_MSG_STORAGE_BACKEND": "postgresql", DATABASE_URL_ENV: dsn})
                assert pg_server.process is not None
                pg_data = encrypt_file(os.urandom(mb * 1024 * 1024),
                                       bytes.fromhex(pg_up.split("/")[-2]))[0]
                pg_target = Target("secure-msg (blobs in PostgreSQL)", pg_server.process.pid,
                                   pg_up, pg_up + "/{id}", pg_headers)
            for _ in range(runs):
                if postgresql:
                    await pg_target.once(http, pg_data)
                for target in targets:
                    await target.once(http, data)
            results = [t.result(len(data)) for t in targets]
            results[2]["files_after_uploads"] = _db_sizes(db_path)
            async with http.post(f"{base}/delete"):
                pass
            results[2]["files_after_delete"] = _db_sizes(db_path)
            if postgresql:
                results.append(pg_target.result(len(pg_data)))
                parts = await _parts(dsn, pg_data, runs)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        for started in (server, pg_server):
            if started is not None:
                started.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for row in results[1:]:
        row["upload_vs_bare"] = round(row["upload_mb_s"] / results[0]["upload_mb_s"], 2)
        row["download_vs_bare"] = round(row["download_mb_s"] / results[0]["download_mb_s"], 2)
    return results + parts


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-bare":
        asyncio.run(_serve_bare(Path(sys.argv[2])))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-sqlite":
        asyncio.run(_serve_sqlite(Path(sys.argv[2])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=25, help="file size in MiB before encryption")
    parser.add_argument("--postgresql", action="store_true",
                        help="also blobs in PostgreSQL (a throwaway cluster), and part sizes")
    args = parser.parse_args()
    for result in asyncio.run(main(args.runs, args.mb, args.postgresql)):
        print(json.dumps(result))
