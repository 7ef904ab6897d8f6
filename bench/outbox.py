"""Outbox benchmark: notices through the durable outbox and the real `twilio` SDK to the local
Twilio-compatible server (a separate process) under a mix of faults, and the time to drain a
backlog after the service is killed.

Three parts, each against a baseline measured in the same run:

1. **Baseline**: the bare gateway (no outbox, no faults, no limit), 16 concurrent sends: the
   ceiling of SDK + local server on this machine.
2. **Fault mix**: N notices through the outbox worker (in this process, as the service runs it:
   one attempt per send, reconcile before resending) with random faults on create requests:
   429 with Retry-After, 500, a timeout and a connection reset, each half of the time *after*
   the message was created. Reported: requests per second against the configured send rate
   (target ≥ 95 %), losses and duplicates per 1,000 notices, what ended how.
3. **Drain after a restart**: the real server (`secure-msg serve`, a subprocess) with a
   500-notice backlog is killed with SIGKILL while sending and started again: the time from
   the new process being ready until every notice is sent, against a clean start with the same
   backlog, and the same kill with the claims left to their 60 s lease (lock files removed:
   the outbox before claims had owners); losses and duplicates.

    .venv/bin/python bench/outbox.py --notices 2000 --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from secure_msg.channels.claim_owner import owners_dir
from secure_msg.channels.outbox import OutboxSettings, OutboxWorker
from secure_msg.channels.sms import TwilioSettings, TwilioSmsGateway
from secure_msg.channels.sms_retry import OutboxRetry
from secure_msg.clock import SystemClock
from secure_msg.config import Secret, TwilioConfig
from secure_msg.crypto.rng import system_rng
from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import Language, NoticeKind, NoticeRenderer
from secure_msg.model.notices import NewNotice
from secure_msg.server_keys import generate_key_files, load_vault
from secure_msg.services.core import Core
from secure_msg.storage import notices as store
from secure_msg.storage.db import Database
from secure_msg.testing.server_process import ServerProcess, start_server
from secure_msg.testing.twilio_server import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN

FROM = "+358451230000"
LINK = "https://msg.example.fi/"
HANG = 1.5  # a timeout fault hangs this long; the request timeout is 1 s
BACKLOG = 500


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _number(i: int) -> str:
    return f"+35840{i:07d}"


def _start_twilio(port: int) -> subprocess.Popen[bytes]:
    """`secure-msg dev twilio` in its own process, so it does not share the worker's core.
    Callbacks wait an hour: messages stay queued at Twilio (no date_sent), which a reconcile
    must still find."""
    return subprocess.Popen(
        [sys.executable, "-m", "secure_msg", "dev", "twilio", "--port", str(port),
         "--callback-delay", "3600"], stdout=subprocess.DEVNULL)


async def _dev(http: aiohttp.ClientSession, url: str, method: str, path: str,
               body: Any = None) -> Any:
    async with http.request(method, url + path, json=body) as response:
        return await response.json()


def _settings(url: str) -> TwilioSettings:
    return TwilioSettings(TwilioConfig(DEV_ACCOUNT_SID, Secret(DEV_AUTH_TOKEN), FROM, url),
                          request_timeout=1.0, max_inline_wait=0.0, max_attempts_per_send=1)


def _notices(count: int, now: int, offset: int = 0) -> list[NewNotice]:
    return [NewNotice(f"bench:{offset + i}", Channel.SMS, _number(offset + i),
                      NoticeKind.NEW_ENTRY_PING, Language.FI, {"link": LINK}, now)
            for i in range(count)]


async def _enqueue(db: Database, vault: Any, notices: list[NewNotice], now: int) -> None:
    def enqueue(conn: sqlite3.Connection, part: list[NewNotice]) -> None:
        for n in part:
            store.enqueue_txn(conn, vault, n, now)

    for chunk in range(0, len(notices), 1000):
        await db.write(functools.partial(enqueue, part=notices[chunk:chunk + 1000]))


async def baseline(url: str, count: int, concurrency: int) -> float:
    """Bare gateway sends per second: the ceiling of this machine for this SDK and server."""
    async with TwilioSmsGateway(_settings(url)) as gateway:
        queue = list(range(count))

        async def one() -> None:
            while queue:
                i = queue.pop()
                await gateway.send(_number(900_000 + i), "baseline " + LINK)

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)


def _fault_mix(args: argparse.Namespace) -> list[dict[str, Any]]:
    mix: list[dict[str, Any]] = [{"kind": "429", "probability": args.p429, "retry_after": 1}]
    for kind, p in (("500", args.p500), ("timeout", args.ptimeout), ("reset", args.preset)):
        for accepted in (False, True):
            mix.append({"kind": kind, "probability": p / 2, "accepted": accepted,
                        "hang_seconds": HANG})
    return mix


async def fault_mix(args: argparse.Namespace, url: str, http: aiohttp.ClientSession,
                    tmp: Path) -> dict[str, Any]:
    """The outbox worker through the fault mix: rate, losses and duplicates."""
    await _dev(http, url, "POST", "/_dev/reset")
    vault = load_vault(tmp / "keys", system_rng)
    db = await Database.open(tmp / "bench.db")
    clock = SystemClock()
    await _enqueue(db, vault, _notices(args.notices, clock.now_ms()), clock.now_ms())
    await _dev(http, url, "POST", "/_dev/faults", {"faults": _fault_mix(args)})
    gateway = TwilioSmsGateway(_settings(url))
    worker = OutboxWorker(
        Core(db, vault, clock, system_rng),
        NoticeRenderer.load(link_origin="https://msg.example.fi"),
        OutboxSettings(rate_per_second=args.rate, concurrency=min(64, max(4, args.rate * 2)),
                       idle_poll_seconds=0.02,
                       retry=OutboxRetry(base_delay=0.2, max_delay=2.0, reconcile_delay=0.5)),
        sms=gateway)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(worker.run(stop))
    while True:
        await asyncio.sleep(0.5)
        counts = await db.read(store.count_by_status_txn)
        print(f"{time.perf_counter() - started:6.1f}s {counts}", file=sys.stderr, flush=True)
        if not any(counts.get(s) for s in ("queued", "sending", "ambiguous")):
            break
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await gateway.aclose()
    await db.close()
    attempts = (await _dev(http, url, "GET", "/_dev/attempts"))["attempts"]
    messages = (await _dev(http, url, "GET", "/_dev/messages"))["messages"]
    reads = (await _dev(http, url, "GET", "/_dev/reads"))["reads"]
    return _mix_figures(args, counts, attempts, messages, reads, elapsed, worker)


def _mix_figures(args: argparse.Namespace, counts: dict[str, int], attempts: list[Any],
                 messages: list[Any], reads: list[Any], elapsed: float,
                 worker: OutboxWorker) -> dict[str, Any]:
    per_number = Counter(m["to"] for m in messages)
    with_message = sum(1 for i in range(args.notices) if per_number[_number(i)] >= 1)
    given_up = counts.get("failed", 0) + counts.get("expired", 0)
    times = sorted(datetime.fromisoformat(a["at"]).timestamp() for a in attempts)
    span = times[-1] - times[0] if len(times) > 1 else elapsed
    # While backlogged: until every notice had its first attempt, there was always work due.
    first: dict[str, float] = {}
    for a in attempts:
        first.setdefault(a["to"], datetime.fromisoformat(a["at"]).timestamp())
    backlogged_until = max(first.values()) if first else times[-1]
    busy = [t for t in times if t <= backlogged_until]
    busy_span = max(busy[-1] - busy[0], 1e-9) if len(busy) > 1 else span
    faults = Counter(a["fault"] for a in attempts)
    per_1000 = 1000 / args.notices
    duplicates = sum(c - 1 for c in per_number.values() if c > 1)
    lost = max(0, args.notices - with_message - given_up)
    return {
        "notices": args.notices, "rate_limit_per_s": args.rate,
        "final_status": dict(sorted(counts.items())),
        "with_a_message": with_message, "lost": lost, "lost_per_1000": round(lost * per_1000, 2),
        "duplicates": duplicates, "duplicates_per_1000": round(duplicates * per_1000, 2),
        "requests": len(attempts), "faults": {str(k): v for k, v in faults.items() if k},
        "list_requests": sum(1 for r in reads if r["kind"] == "list"),
        "reconciliations": dict(worker.stats.reconciliations),
        "elapsed_s": round(elapsed, 1),
        "requests_per_s": round(len(attempts) / span, 1),
        "share_of_limit": round(len(attempts) / span / args.rate, 3),
        "share_of_limit_while_backlogged": round(len(busy) / busy_span / args.rate, 3),
        "delivered_per_s_share_of_limit": round(with_message / elapsed / args.rate, 3),
    }


# -- part 3: drain a backlog after kill -9 -------------------------------------------------------


def _sent(server: ServerProcess) -> int:
    """Notices handed to Twilio; a notice given up stops the benchmark."""
    with sqlite3.connect(server.db_path, timeout=10) as conn:
        counts = dict(conn.execute("SELECT status, COUNT(*) FROM notices GROUP BY status"))
    if counts.get("failed") or counts.get("expired"):
        raise RuntimeError(f"notices were given up: {counts}")
    return sum(counts.get(s, 0) for s in ("sent", "reconciled", "duplicate_suspected"))


async def _backlog_server(workdir: Path, url: str, rate: int, offset: int) -> ServerProcess:
    """A real server with `BACKLOG` notices queued while it was stopped; returned stopped."""
    toml = (f'[twilio]\naccount_sid = "{DEV_ACCOUNT_SID}"\nfrom_number = "{FROM}"\n'
            f'api_base_url = "{url}"\n[notices]\nsend_rate_per_second = {rate}\n'
            "scheduler_interval_ms = 3600000\nrequest_timeout_ms = 1000\n")
    server = start_server(workdir, extra_toml=toml,
                          server_toml=f'public_base_url = "{LINK.rstrip("/")}"\n',
                          env={"SECURE_MSG_TWILIO_AUTH_TOKEN": DEV_AUTH_TOKEN})
    server.stop()
    vault = load_vault(server.keys_dir, system_rng)
    db = await Database.open(server.db_path)
    now = SystemClock().now_ms()
    await _enqueue(db, vault, _notices(BACKLOG, now, offset), now)
    await db.close()
    return server


async def _until_sent(server: ServerProcess, count: int, every: float = 0.02) -> float:
    """Seconds until `count` notices are handed to Twilio (read from the database file)."""
    started = last = time.perf_counter()
    while True:
        sent = _sent(server)
        if sent >= count:
            return time.perf_counter() - started
        if time.perf_counter() - last >= 1:
            last = time.perf_counter()
            print(f"{last - started:6.1f}s sent {sent}", file=sys.stderr, flush=True)
        await asyncio.sleep(every)


async def _kill_and_restart(server: ServerProcess, *, forget_owners: bool) -> dict[str, Any]:
    """Kill -9 once a fifth of the backlog is sent, start again, time the rest. With
    `forget_owners` the lock files are removed first, so nothing proves the dead process gone
    and its claims wait out their lease: the outbox before claims had owners."""
    server.start()
    await _until_sent(server, BACKLOG // 5, every=0.005)
    server.kill()
    sent_before = _sent(server)
    with sqlite3.connect(server.db_path) as conn:
        held = conn.execute("SELECT COUNT(*) FROM notices WHERE status = 'sending'").fetchone()[0]
    if forget_owners:
        shutil.rmtree(owners_dir(server.db_path))
    server.start()
    seconds = await _until_sent(server, BACKLOG)
    server.stop()
    return {"killed_after_sent": sent_before, "claims_held_by_the_killed_process": int(held),
            "drain_after_restart_s": round(seconds, 2)}


async def drain(args: argparse.Namespace, url: str, http: aiohttp.ClientSession,
                tmp: Path) -> dict[str, Any]:
    """A clean start with the backlog; the same backlog with a kill -9 while sending; and, as
    the outbox was before, the same kill with its claims left to their lease."""
    await _dev(http, url, "POST", "/_dev/reset")
    clean = await _backlog_server(tmp / "clean", url, args.drain_rate, 100_000)
    clean.start()
    clean_s = await _until_sent(clean, BACKLOG)
    clean.stop()
    runs = {"kill": await _kill_and_restart(
        await _backlog_server(tmp / "kill", url, args.drain_rate, 200_000), forget_owners=False)}
    if args.lease_baseline:
        runs["kill_lease_only"] = await _kill_and_restart(
            await _backlog_server(tmp / "lease", url, args.drain_rate, 300_000),
            forget_owners=True)
    messages = (await _dev(http, url, "GET", "/_dev/messages"))["messages"]
    for name, offset in (("kill", 200_000), ("kill_lease_only", 300_000)):
        if name not in runs:
            continue
        to = Counter(m["to"] for m in messages
                     if _number(offset) <= m["to"] < _number(offset + BACKLOG))
        run = runs[name]
        run["lost"] = BACKLOG - len(to)
        run["duplicates"] = sum(c - 1 for c in to.values() if c > 1)
        remaining = BACKLOG - run["killed_after_sent"]
        run["per_notice_vs_clean"] = round(
            (run["drain_after_restart_s"] / remaining) / (clean_s / BACKLOG), 3)
    return {"backlog": BACKLOG, "rate_limit_per_s": args.drain_rate,
            "clean_drain_s": round(clean_s, 2), **runs}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    twilio = _start_twilio(port)
    tmp = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    await _dev(http, url, "GET", "/_dev/faults")
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            base = await baseline(url, args.baseline, concurrency=16)
            generate_key_files(tmp / "keys", system_rng)
            mix = await fault_mix(args, url, http, tmp) if args.mix else {}
            drained = await drain(args, url, http, tmp) if args.drain else None
    finally:
        twilio.terminate()
        twilio.wait(10)
    mix["baseline_gateway_per_s"] = round(base, 1)
    mix["limit_as_share_of_baseline"] = round(args.rate / base, 3)
    return {"fault_mix": mix, "drain_after_restart": drained}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=100, help="send-rate limit per second")
    parser.add_argument("--p429", type=float, default=0.05)
    parser.add_argument("--p500", type=float, default=0.05)
    parser.add_argument("--ptimeout", type=float, default=0.04)
    parser.add_argument("--preset", type=float, default=0.04)
    parser.add_argument("--baseline", type=int, default=2000)
    parser.add_argument("--drain-rate", type=int, default=100)
    parser.add_argument("--no-drain", dest="drain", action="store_false")
    parser.add_argument("--no-mix", dest="mix", action="store_false")
    parser.add_argument("--no-lease-baseline", dest="lease_baseline", action="store_false",
                        help="skip the kill whose claims wait out the 60 s lease")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
