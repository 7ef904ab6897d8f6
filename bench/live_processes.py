"""Live events across two app processes on one PostgreSQL database (issue 18).

    .venv/bin/python bench/live_processes.py [--events 200]

On a durable throwaway cluster, two `secure-msg serve` processes with the same keys
(secure_msg.testing.two_processes): a therapist posts through the first, one after another;
the guardian has a live socket on each process. Per post it records when the poster got its
201 and when each socket got the entry event; the second process's socket hears of it through
LISTEN/NOTIFY (services/live_bus.py), the first's from its own hub.

It then measures the two things a table polled with a cursor would cost instead, on the same
cluster: LISTEN/NOTIFY alone (a `pg_notify` on one connection until another connection has
it: the floor of the bus; then until a callback on an event loop has it, with an async
listener on the loop and with a thread), and one poll that finds nothing new (`SELECT … WHERE
id > cursor` on an indexed table of 10,000 events), which a poller pays on every tick whether
anything happened or not. One JSON line per part.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from secure_msg.client import Client, Profile
from secure_msg.testing.pg_cluster import PgCluster
from secure_msg.testing.server_pair import start_pair
from secure_msg.testing.two_processes import on, run_cli

PASSWORD = "correct horse battery staple"  # noqa: S105 (a throwaway test account)


def _ms(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100)
    return {"p50_ms": round(q[49] * 1000, 3), "p99_ms": round(q[98] * 1000, 3),
            "max_ms": round(max(values) * 1000, 3)}


async def _socket(http: aiohttp.ClientSession, base_url: str, token: str,
                  seen: dict[int, float]) -> tuple[aiohttp.ClientWebSocketResponse,
                                                   asyncio.Task[None]]:
    ws = await http.ws_connect(base_url + "/api/live")
    await ws.send_json({"token": token})
    assert (await ws.receive_json(timeout=10))["type"] == "ready"

    async def read() -> None:
        async for msg in ws:
            event = json.loads(msg.data)
            if event.get("type") == "entry":
                seen[event["seq"]] = time.perf_counter()

    return ws, asyncio.create_task(read())


async def across_processes(workdir: Path, dsn: str, events: int) -> dict[str, Any]:
    first, second = start_pair(workdir, dsn)
    try:
        async with aiohttp.ClientSession() as http:
            invite = run_cli(first, "admin", "invite", "--role", "therapist", "--name", "T",
                             "--json")
            therapist = Client(Profile(), http)
            await therapist.enroll(on(first, json.loads(invite.stdout)["link"]), "terapeutti",
                                   PASSWORD)
            booklet = await therapist.create_booklet("B")
            link = (await therapist.invite(booklet, "guardian", name="aiti"))["link"]
            guardian = Client(Profile(), http)
            await guardian.enroll(on(second, link), "aiti", PASSWORD)
            local: dict[int, float] = {}
            remote: dict[int, float] = {}
            sockets = [await _socket(http, first.base_url, guardian.profile.token, local),
                       await _socket(http, second.base_url, guardian.profile.token, remote)]
            acked: dict[int, float] = {}
            for n in range(events + 10):  # the first ten warm up
                seq = (await therapist.post(booklet, "note", text=f"hei {n}"))["seq"]
                acked[seq] = time.perf_counter()
                deadline = time.perf_counter() + 5
                while seq not in remote or seq not in local:
                    assert time.perf_counter() < deadline, f"event {seq} did not arrive"
                    await asyncio.sleep(0.0005)
            for ws, task in sockets:
                await ws.close()
                await task
    finally:
        first.stop()
        second.stop()
    seqs = sorted(acked)[10:]
    return {
        "benchmark": "live_processes", "part": "post_to_socket", "events": len(seqs),
        # The hub fans out after the commit and before the 201 goes: negative = before.
        "other_process_after_ack": _ms([remote[s] - acked[s] for s in seqs]),
        "same_process_after_ack": _ms([local[s] - acked[s] for s in seqs]),
        "other_minus_same_process": _ms([remote[s] - local[s] for s in seqs]),
    }


def notify_floor(dsn: str, events: int) -> dict[str, Any]:
    """pg_notify on one connection until the listening connection has it."""
    with psycopg.connect(dsn, autocommit=True) as sender, \
            psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute("LISTEN bench")
        latencies = []
        for n in range(events + 10):
            started = time.perf_counter()
            sender.execute("SELECT pg_notify('bench', %s)", (f"v1 x e {n}",))
            next(iter(listener.notifies(timeout=5, stop_after=1)))
            latencies.append(time.perf_counter() - started)
    return {"benchmark": "live_processes", "part": "notify_floor", "events": events,
            **_ms(latencies[10:])}


async def listener_on_loop(dsn: str, events: int, *, threaded: bool) -> list[float]:
    """`pg_notify` from another thread's connection until a callback on this event loop has
    it: the listener as psycopg async on the loop (what storage/pg_notify.py does), or as a
    sync connection in a thread of its own handing over with call_soon_threadsafe."""
    import threading

    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[float] = asyncio.Queue()

    def on_payload(_payload: str) -> None:
        arrived.put_nowait(time.perf_counter())

    stop = threading.Event()
    listen_task: asyncio.Task[None] | None = None
    thread: threading.Thread | None = None
    aconn: psycopg.AsyncConnection[Any] | None = None
    if threaded:
        ready = threading.Event()

        def listen() -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("LISTEN bench")
                ready.set()
                while not stop.is_set():
                    for n in conn.notifies(timeout=0.5):
                        loop.call_soon_threadsafe(on_payload, n.payload)

        thread = threading.Thread(target=listen)
        thread.start()
        await asyncio.to_thread(ready.wait)
    else:
        aconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        await aconn.execute("LISTEN bench")

        async def listen_async(conn: psycopg.AsyncConnection[Any]) -> None:
            async for n in conn.notifies():
                on_payload(n.payload)

        listen_task = asyncio.create_task(listen_async(aconn))
    sender = psycopg.connect(dsn, autocommit=True)
    latencies = []
    try:
        for n in range(events + 10):
            started = time.perf_counter()
            await asyncio.to_thread(sender.execute, "SELECT pg_notify('bench', %s)", (str(n),))
            latencies.append(await asyncio.wait_for(arrived.get(), 5) - started)
    finally:
        sender.close()
        stop.set()
        if thread is not None:
            await asyncio.to_thread(thread.join)
        if listen_task is not None:
            listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listen_task
        if aconn is not None:
            await aconn.close()
    return latencies[10:]


async def listener_variants(dsn: str, events: int) -> dict[str, Any]:
    """Both listeners, in alternating rounds (the machine's load falls on both alike)."""
    results: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(4):
        for threaded in (False, True):
            results[threaded] += await listener_on_loop(dsn, events // 4, threaded=threaded)
    return {"benchmark": "live_processes", "part": "listener_to_loop", "events": events,
            "async_on_loop": _ms(results[False]), "thread_call_soon_threadsafe": _ms(results[True])}


def poll_cost(dsn: str, polls: int) -> dict[str, Any]:
    """One empty poll of an events table by cursor: its round trip, and the server's CPU
    (EXPLAIN ANALYZE's execution time) per poll."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE poll_events (id bigserial PRIMARY KEY, payload text NOT NULL)")
        conn.execute("INSERT INTO poll_events (payload) SELECT 'v1 x e ' || g "
                     "FROM generate_series(1, 10000) AS g")
        conn.execute("VACUUM ANALYZE poll_events")
        cursor = 10_000
        query = "SELECT id, payload FROM poll_events WHERE id > %s ORDER BY id LIMIT 100"
        latencies = []
        for _ in range(polls + 50):
            started = time.perf_counter()
            conn.execute(query, (cursor,)).fetchall()
            latencies.append(time.perf_counter() - started)
        plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, (cursor,)).fetchone()
        execution_ms = plan[0][0]["Execution Time"] if plan else 0.0
        started = time.perf_counter()
        for _ in range(polls):
            conn.execute("INSERT INTO poll_events (payload) VALUES (%s)", ("v1 x e 1",))
        insert_s = (time.perf_counter() - started) / polls
    return {"benchmark": "live_processes", "part": "poll_empty", "polls": polls,
            **_ms(latencies[50:]), "server_execution_ms": round(execution_ms, 3),
            "insert_autocommit_ms": round(insert_s * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    cluster = PgCluster.start(durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="secure-msg-live-processes-") as workdir:
            dsn = cluster.create_database("live")
            print(json.dumps(asyncio.run(across_processes(Path(workdir), dsn, args.events))),
                  flush=True)
        bare = cluster.create_database("bare")
        print(json.dumps(notify_floor(bare, args.events)), flush=True)
        print(json.dumps(asyncio.run(listener_variants(bare, args.events))), flush=True)
        print(json.dumps(poll_cost(bare, 2000)), flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
