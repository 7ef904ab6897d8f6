"""Outbox benchmark: N notices through the durable outbox and the real `twilio` SDK to the local
Twilio-compatible server (a separate process), with random 500s and 429s injected.

Reports delivered, lost, duplicates, failed, and the sustained request rate as a share of the
configured send-rate limit; the baseline is the bare gateway (no outbox, no faults, no limit)
measured in the same run.

    .venv/bin/python bench/outbox.py --notices 10000 --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
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

from secure_msg.channels.outbox import OutboxSettings, OutboxWorker
from secure_msg.channels.sms import TwilioSettings, TwilioSmsGateway
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
from secure_msg.testing.twilio_server import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN

FROM = "+358451230000"
LINK = "https://msg.example.fi/"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _number(i: int) -> str:
    return f"+35840{i:07d}"


def _start_twilio(port: int) -> subprocess.Popen[bytes]:
    """`secure-msg dev twilio` in its own process, so it does not share the worker's core."""
    return subprocess.Popen(
        [sys.executable, "-m", "secure_msg", "dev", "twilio", "--port", str(port),
         "--callback-delay", "3600"], stdout=subprocess.DEVNULL)


async def _dev(http: aiohttp.ClientSession, url: str, method: str, path: str,
               body: Any = None) -> Any:
    async with http.request(method, url + path, json=body) as response:
        return await response.json()


def _settings(url: str) -> TwilioSettings:
    return TwilioSettings(TwilioConfig(DEV_ACCOUNT_SID, Secret(DEV_AUTH_TOKEN), FROM, url),
                          max_inline_wait=0.0, max_attempts_per_send=1)


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
            await _dev(http, url, "POST", "/_dev/reset")
            generate_key_files(tmp / "keys", system_rng)
            vault = load_vault(tmp / "keys", system_rng)
            db = await Database.open(tmp / "bench.db")
            clock = SystemClock()
            now = clock.now_ms()
            notices = [NewNotice(f"bench:{i}", Channel.SMS, _number(i), NoticeKind.NEW_ENTRY_PING,
                                 Language.FI, {"link": LINK}, now) for i in range(args.notices)]
            def enqueue(conn: sqlite3.Connection, part: list[NewNotice]) -> None:
                for n in part:
                    store.enqueue_txn(conn, vault, n, now)

            for chunk in range(0, len(notices), 1000):
                await db.write(functools.partial(enqueue, part=notices[chunk:chunk + 1000]))
            await _dev(http, url, "POST", "/_dev/faults", {"faults": [
                {"kind": "500", "probability": args.p500 / 2, "accepted": True},
                {"kind": "500", "probability": args.p500 / 2},
                {"kind": "429", "probability": args.p429, "retry_after": 1},
            ]})
            gateway = TwilioSmsGateway(_settings(url))
            worker = OutboxWorker(
                Core(db, vault, clock, system_rng),
                NoticeRenderer.load(link_origin="https://msg.example.fi"),
                OutboxSettings(rate_per_second=args.rate, max_attempts=20,
                               concurrency=max(4, args.rate * 2 // 10), idle_poll_seconds=0.02),
                sms=gateway)
            stop = asyncio.Event()
            started = time.perf_counter()
            task = asyncio.create_task(worker.run(stop))
            while True:
                await asyncio.sleep(0.5)
                counts = await db.read(store.count_by_status_txn)
                if not counts.get("queued") and not counts.get("sending"):
                    break
            elapsed = time.perf_counter() - started
            stop.set()
            await task
            await gateway.aclose()
            await db.close()
            attempts = (await _dev(http, url, "GET", "/_dev/attempts"))["attempts"]
            messages = (await _dev(http, url, "GET", "/_dev/messages"))["messages"]
    finally:
        twilio.terminate()
        twilio.wait(10)
    per_number = Counter(m["to"] for m in messages)
    failed = counts.get("failed", 0)
    delivered = sum(1 for i in range(args.notices) if per_number[_number(i)] >= 1)
    times = sorted(datetime.fromisoformat(a["at"]).timestamp() for a in attempts)
    span = times[-1] - times[0] if len(times) > 1 else elapsed
    faults = Counter(a["fault"] for a in attempts)
    return {
        "notices": args.notices, "rate_limit_per_s": args.rate,
        "delivered": delivered, "failed_visibly": failed,
        "without_any_message": args.notices - delivered,
        # Lost: no message at the provider and not visibly failed (failed ones may still have
        # gone out through an accepted 500).
        "lost": max(0, args.notices - delivered - failed),
        "duplicates": sum(c - 1 for c in per_number.values() if c > 1),
        "requests": len(attempts), "injected_500": faults.get("500", 0),
        "injected_429": faults.get("429", 0), "elapsed_s": round(elapsed, 1),
        "requests_per_s": round(len(attempts) / span, 1),
        "share_of_limit": round(len(attempts) / span / args.rate, 3),
        "delivered_per_s": round(delivered / elapsed, 1),
        "baseline_gateway_per_s": round(base, 1),
        "limit_as_share_of_baseline": round(args.rate / base, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notices", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=100, help="send-rate limit per second")
    parser.add_argument("--p500", type=float, default=0.10)
    parser.add_argument("--p429", type=float, default=0.05)
    parser.add_argument("--baseline", type=int, default=2000)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
