"""Memory per idle live WebSocket (GET /api/live) against a bare aiohttp WebSocket, in one run.

    .venv/bin/python bench/live_memory.py [--steps 1000,5000,10000] [--shared-token] [--trace]

Both servers are subprocesses; the connections come from a third process (the loader: asyncio +
one aiohttp ClientSession, a reader task per socket so that the servers' heartbeat pings are
answered), so the load side's memory never counts. Each server's resident set (VmRSS from
/proc) is read after a warm-up (200 sockets opened and closed), then after each step of open,
idle, authenticated sockets; per connection = ΔRSS / N from the warm state, and the marginal
figure between the last two steps (which leaves out one-off growth such as the first arena).

- bare: aiohttp alone. Its handler does the same exchange as the real one without auth
  (receive the first message, answer {"type": "ready"}), with the same WebSocketResponse
  settings (heartbeat 30 s, 4 KiB messages), then reads until the client goes.
- real: `secure-msg serve` (secure_msg.testing.server_process) with [server] max_connections
  raised above the largest step (the default is 512). One therapist enrolls through the API;
  then, with the server stopped, one session per socket is stored as login stores it (SHA-256
  of a random token, one hour), so each socket authenticates with its own session of that one
  account, as N devices of one person would (--shared-token: one token for every socket;
  the server has no per-account or per-session socket limit). Every socket is "ready", i.e.
  authenticated and subscribed.
- --trace: the real server is run once more under tracemalloc (25 frames) through this file's
  `--serve-traced`, which dumps a snapshot on SIGUSR1; the top allocation sites of the
  difference between the warm state and the largest step are printed.

The file-descriptor limit is raised to its hard limit (20 000 on the dev VM) for this process,
which the servers and the loader inherit.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import runpy
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from ingest_baseline import cpu_seconds

HERE = Path(__file__).resolve().parent
WARMUP = 200
OPEN_CONCURRENCY = 64  # the listen backlog is aiohttp's 128: more in flight only retries SYNs
SETTLE_SECONDS = 3.0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


# --- the bare server -------------------------------------------------------------------------

async def _bare_live(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    await ws.receive()
    await ws.send_json({"type": "ready"})
    async for _ in ws:
        pass
    return ws


async def _serve_bare() -> None:
    app = web.Application()
    app.router.add_get("/api/live", _bare_live)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    gc.collect()
    gc.freeze()  # as the real server does once it listens
    port = runner.addresses[0][1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


# --- the real server under tracemalloc ----------------------------------------------------------

def _serve_traced(argv: list[str]) -> None:
    """`secure-msg serve` with tracemalloc on; SIGUSR1 dumps a snapshot to $LIVE_MEMORY_SNAPSHOT."""
    tracemalloc.start(25)
    out = Path(os.environ["LIVE_MEMORY_SNAPSHOT"])

    def dump(_signum: int, _frame: object) -> None:
        tmp = out.with_suffix(".tmp")
        tracemalloc.take_snapshot().dump(str(tmp))
        tmp.replace(out)

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["secure-msg", "serve", *argv]
    runpy.run_module("secure_msg", run_name="__main__")


# --- the loader (its own process) -------------------------------------------------------------

async def _loader(url: str, tokens_file: Path) -> None:
    """Commands on stdin: `open N` (total open sockets), `close`. Answers one JSON line each."""
    tokens = tokens_file.read_text().split()  # noqa: ASYNC240 - before any socket opens
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    sockets: list[tuple[aiohttp.ClientWebSocketResponse, asyncio.Task[None]]] = []
    failures = 0
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:  # answers the server's pings
            pass

    async def one(http: aiohttp.ClientSession, token: str, gate: asyncio.Semaphore) -> None:
        nonlocal failures
        async with gate:
            try:
                ws = await http.ws_connect(url, autoping=True, max_msg_size=4096)
                await ws.send_json({"token": token})
                msg = await ws.receive(timeout=60)
                if msg.type is not aiohttp.WSMsgType.TEXT or json.loads(msg.data) != {
                        "type": "ready"}:
                    failures += 1
                    await ws.close()
                    return
            except (aiohttp.ClientError, OSError, TimeoutError):
                failures += 1
                return
        sockets.append((ws, asyncio.ensure_future(drain(ws))))

    async with aiohttp.ClientSession(connector=connector) as http:
        while line := (await reader.readline()).decode().strip():
            command, _, arg = line.partition(" ")
            started = time.monotonic()
            if command == "open":
                want = int(arg)
                gate = asyncio.Semaphore(OPEN_CONCURRENCY)
                await asyncio.gather(*(one(http, tokens[i % len(tokens)], gate)
                                       for i in range(len(sockets), want)))
            elif command == "close":
                await asyncio.gather(*(ws.close() for ws, _ in sockets))
                for _, task in sockets:
                    task.cancel()
                sockets.clear()
            alive = sum(1 for ws, _ in sockets if not ws.closed)
            print(json.dumps({"open": alive, "failures": failures,
                              "seconds": round(time.monotonic() - started, 2),
                              "loader_rss": rss_bytes(os.getpid())}), flush=True)
            if command == "exit":
                break


class Loader:
    def __init__(self, url: str, tokens: list[str], workdir: Path) -> None:
        tokens_file = workdir / "tokens.txt"
        tokens_file.write_text("\n".join(tokens))
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--load", url, "--tokens", str(tokens_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def command(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def finish(self) -> None:
        self.command("exit")
        self.process.wait(timeout=60)


# --- the controller -----------------------------------------------------------------------------

def measure(name: str, pid: int, url: str, tokens: list[str], steps: list[int], workdir: Path,
            idle_seconds: float = 0.0, snapshot: Any = None) -> dict[str, Any]:
    """Warm up, then open the steps' sockets and read the server's RSS at each."""
    loader = Loader(url, tokens, workdir)
    warm = loader.command(f"open {WARMUP}")
    assert warm["open"] == WARMUP, warm
    loader.command("close")
    time.sleep(SETTLE_SECONDS)
    base = rss_bytes(pid)
    if snapshot is not None:
        snapshot("warm")
    rows = []
    for n in steps:
        answer = loader.command(f"open {n}")
        time.sleep(SETTLE_SECONDS)
        rss = rss_bytes(pid)
        rows.append({"n": n, "open": answer["open"], "failures": answer["failures"],
                     "open_seconds": answer["seconds"], "rss": rss,
                     "per_connection": (rss - base) / max(1, answer["open"]),
                     "loader_rss": answer["loader_rss"]})
        print(f"{name}: {answer['open']:>6} open ({answer['failures']} failed, "
              f"{answer['seconds']} s)  RSS {rss / 2**20:7.1f} MiB  "
              f"per connection {(rss - base) / max(1, answer['open']) / 1024:6.2f} KiB",
              flush=True)
    if snapshot is not None:
        snapshot(f"n{steps[-1]}")
    idle_cpu = None
    if idle_seconds:
        # Idle is not free: heartbeat pings every 30 s and, for the real server, a session
        # recheck per socket every 60 s.
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(idle_seconds)
        idle_cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        print(f"{name}: idle with {rows[-1]['open']} open: {idle_cpu:.3f} cores busy", flush=True)
    loader.command("close")
    loader.finish()
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        marginal = (b["rss"] - a["rss"]) / max(1, b["open"] - a["open"])
    else:
        marginal = rows[-1]["per_connection"]
    return {"name": name, "base_rss": base, "steps": rows, "marginal": marginal,
            "idle_cores_busy": idle_cpu}


def start_bare(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-bare"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.split("listening on ", 1)[1].strip().replace("http", "ws") + "/api/live"


def real_server(workdir: Path, sessions: int, traced: bool = False) -> tuple[Any, list[str]]:
    """The real server with one enrolled therapist and `sessions` stored sessions of theirs."""
    sys.path.insert(0, str(HERE))
    from ingest import PASSWORD, admin_invite

    from secure_msg.client import Client, Profile
    from secure_msg.model.accounts import hash_token
    from secure_msg.testing.server_process import start_server

    server_toml = "max_connections = 100000\n"
    env: dict[str, str] = {}
    if traced:
        env = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
               "LIVE_MEMORY_SNAPSHOT": str(workdir / "snapshot.bin")}
    timeout = 180.0 if traced else 20.0  # imports under tracemalloc are slow
    server = start_server(workdir, server_toml=server_toml, env=env, timeout=timeout,
                          module_args=("live_memory", "--serve-traced") if traced
                          else ("secure_msg", "serve"))

    async def enroll() -> None:
        async with aiohttp.ClientSession() as http:
            therapist = Client(Profile(), http)
            await therapist.enroll(admin_invite(server, "Live Bench"), "live-bench", PASSWORD)

    asyncio.run(enroll())
    server.stop()
    tokens = [os.urandom(32).hex() for _ in range(sessions)]
    now = time.time_ns() // 1_000_000
    with sqlite3.connect(server.db_path) as conn:
        (account,) = conn.execute("SELECT id FROM accounts WHERE role = 'therapist'").fetchone()
        conn.executemany(
            "INSERT INTO sessions (token_hash, account_id, created_at_ms, expires_at_ms)"
            " VALUES (?, ?, ?, ?)",
            [(hash_token(t), account, now, now + 3_600_000) for t in tokens])
    server.start(timeout)
    return server, tokens


def print_trace(workdir: Path, top: int) -> None:
    before = tracemalloc.Snapshot.load(str(workdir / "snap-warm.bin"))
    after = next(tracemalloc.Snapshot.load(str(p)) for p in workdir.glob("snap-n*.bin"))
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, after = before.filter_traces(filters), after.filter_traces(filters)
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"\ntracemalloc: Python allocations grew by {total / 2**20:.1f} MiB; top sites:")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        print(f"  {stat.size_diff / 1024:9.1f} KiB  {stat.count_diff:+8d} blocks  "
              f"{frame.filename}:{frame.lineno}")
    print("\nby the project's own frame nearest the allocation (traceback grouping):")
    sites: dict[str, int] = {}
    for stat in after.compare_to(before, "traceback"):
        own = next((f for f in reversed(stat.traceback) if "secure_msg" in f.filename
                    and not f.filename.endswith("__main__.py")), None)
        key = (f"{own.filename.split('secure_msg/')[-1]}:{own.lineno}" if own
               else "(aiohttp/asyncio only)")
        sites[key] = sites.get(key, 0) + stat.size_diff
    for key, size in sorted(sites.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {size / 1024:9.1f} KiB  {key}")


def traced_run(workdir: Path, sessions: int, steps: list[int], top: int) -> dict[str, Any]:
    """The real server once more under tracemalloc; prints where the memory went."""
    traced, tokens = real_server(workdir / "traced", sessions, traced=True)
    assert traced.process is not None
    pid = traced.process.pid

    def snapshot(label: str) -> None:
        out = workdir / "traced" / "snapshot.bin"
        out.unlink(missing_ok=True)
        os.kill(pid, signal.SIGUSR1)
        while not out.exists():
            time.sleep(0.2)
        out.replace(workdir / f"snap-{label}.bin")

    try:
        url = traced.base_url.replace("http", "ws") + "/api/live"
        result = measure("real, tracemalloc", pid, url, tokens, steps, workdir,
                         snapshot=snapshot)
    finally:
        traced.stop()
    print_trace(workdir, top)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", default="1000,5000,10000")
    parser.add_argument("--shared-token", action="store_true",
                        help="one session token for every socket instead of one each")
    parser.add_argument("--trace", action="store_true",
                        help="also run the real server under tracemalloc and print where it goes")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--idle-seconds", type=float, default=60.0,
                        help="server CPU measured this long at the largest step (0: skip)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args, rest = parser.parse_known_args()
    if rest[:1] == ["--serve-bare"]:
        asyncio.run(_serve_bare())
        return
    if rest[:1] == ["--serve-traced"]:
        _serve_traced(rest[1:])
        return
    if rest[:1] == ["--load"]:
        asyncio.run(_loader(rest[1], Path(rest[3])))
        return
    limit = raise_fd_limit()
    steps = [int(s) for s in args.steps.split(",")]
    print(f"RLIMIT_NOFILE soft = {limit}; steps {steps}; "
          f"{'one shared token' if args.shared_token else 'one session per socket'}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="secure-msg-bench-live-"))
    results = []
    try:
        bare, url = start_bare(workdir)
        try:
            results.append(measure("bare", bare.pid, url, ["x"], steps, workdir,
                                   args.idle_seconds))
        finally:
            bare.send_signal(signal.SIGTERM)
            bare.wait(timeout=30)
        sessions = 1 if args.shared_token else max(steps)
        server, tokens = real_server(workdir / "real", sessions)
        try:
            url = server.base_url.replace("http", "ws") + "/api/live"
            assert server.process is not None
            results.append(measure("real", server.process.pid, url, tokens, steps, workdir,
                                   args.idle_seconds))
        finally:
            server.stop()
        if args.trace:
            results.append(traced_run(workdir, sessions, steps, args.top))
        bare_r, real_r = results[0], results[1]
        print("\nsummary (KiB per connection: from warm / marginal between the last two steps)")
        for r in results:
            last = r["steps"][-1]
            print(f"  {r['name']:<18} base {r['base_rss'] / 2**20:6.1f} MiB  "
                  f"{last['per_connection'] / 1024:6.2f} / {r['marginal'] / 1024:6.2f}")
        ratio = real_r["steps"][-1]["per_connection"] / bare_r["steps"][-1]["per_connection"]
        marginal_ratio = real_r["marginal"] / bare_r["marginal"]
        print(f"  ratio real/bare at {steps[-1]}: {ratio:.2f} (marginal {marginal_ratio:.2f}); "
              "target <= 1.5")
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
