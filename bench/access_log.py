"""What recording reads for the access log costs entry fetching, and what a log page costs.

    .venv/bin/python bench/access_log.py [--seconds 3] [--rounds 3] [--concurrency 16]

Small on purpose (the machine is shared): 400 booklets of 100 entries (40 000 entries, three
members each), built through the storage layer's own functions in a temporary directory.
Pages of 50 entries are read through `entry_service.read` (the API's service call: membership,
the page query, the audit record) by `--concurrency` tasks on one event loop, in two modes
interleaved round by round so that a busy neighbour hurts them alike:

- none:   reads are not recorded (an AuditBatcher whose `add` does nothing): the ceiling;
- ranges: this branch's record, {"from", "to", "count", "ranges"} per page (split if long).

and the detail's own cost against the previous record ({"from", "to", "count"}) per page.

Both recording modes write through the real AuditBatcher and writer thread onto the file. Then
a booklet's access log is read a page (50 events) at a time through `access_log.page` on the
chain the reads left behind, padded with 200 000 other booklets' events, against the same
query with the (target, seq) index disabled.
No HTTP: the difference between the modes is the service's work, which is what changed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secure_msg.clock import SystemClock
from secure_msg.crypto.keys import PBKDF2_ITERATIONS, AccountKeys
from secure_msg.crypto.rng import system_rng
from secure_msg.model.access_log import booklet_target, fetch_details
from secure_msg.model.accounts import NewAccount, Session
from secure_msg.model.booklets import StoredEntry
from secure_msg.model.entry_json import entry_text
from secure_msg.model.roles import Role
from secure_msg.server_keys import generate_key_files, load_vault
from secure_msg.services import access_log, entry_service
from secure_msg.services.audit_batcher import AuditBatcher, PendingEvent
from secure_msg.services.booklet_service import BookletDeps
from secure_msg.services.entry_service import EntryDeps
from secure_msg.services.live import Hub
from secure_msg.storage import accounts as account_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklets as store
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

BOOKLETS = 400
ENTRIES = 100
PAGE = 50
PAD_EVENTS = 200_000


class NullBatcher(AuditBatcher):
    def add(self, event: PendingEvent) -> None:
        pass


def _account(keys: AccountKeys, role: Role, login: str, now: int) -> NewAccount:
    placeholder = b"bench: cannot log in"
    return NewAccount(
        keys.account_id, role, login, None, None, None, "en", os.urandom(16), PBKDF2_ITERATIONS,
        placeholder, placeholder, placeholder, placeholder, keys.statement(now).encode(),
        keys.identity_public, keys.encryption_public)


async def build(db: Database, vault: Any) -> list[tuple[bytes, bytes]]:
    """(booklet id, reader id) pairs: one therapist reads every booklet."""
    now = time.time_ns() // 1_000_000
    therapist = AccountKeys.generate(os.urandom(16))
    pairs = []

    def txn(conn: Txn) -> None:
        account_store.insert_account_txn(
            conn, vault, _account(therapist, Role.THERAPIST, "bench-t", now), now)
        for b in range(BOOKLETS):
            booklet_id = os.urandom(16)
            guardians = [AccountKeys.generate(os.urandom(16)) for _ in range(2)]
            for g, keys in enumerate(guardians):
                account_store.insert_account_txn(
                    conn, vault, _account(keys, Role.GUARDIAN, f"bench-g{b}-{g}", now), now)
            store.insert_booklet_txn(conn, booklet_id, therapist.account_id, now)
            members = [therapist.account_id, *(g.account_id for g in guardians)]
            store.add_member_txn(conn, booklet_id, members[0], Role.THERAPIST, now)
            for gid in members[1:]:
                store.add_member_txn(conn, booklet_id, gid, Role.GUARDIAN, now)
            for seq in range(1, ENTRIES + 1):
                entry = StoredEntry(booklet_id, seq, os.urandom(16), members[seq % 3], 2, now,
                                    now, os.urandom(32), os.urandom(600))
                store.insert_entry_txn(conn, entry, members, text=entry_text(entry))
            pairs.append((booklet_id, therapist.account_id))

    await db.write(txn, inline=False)
    return pairs


def _counts_only(seqs: list[int]) -> list[dict[str, int | str]]:
    """The record before this branch, for comparison."""
    return [{"from": seqs[0], "to": seqs[-1], "count": len(seqs)}] if seqs else []


def _as(session: Session, _conn: Txn) -> Session:
    return session


async def run_mode(deps: EntryDeps, pairs: list[tuple[bytes, bytes]], seconds: float,
                   concurrency: int) -> tuple[float, float]:
    """(pages per second, CPU µs per page) over `seconds`, `concurrency` tasks each reading
    random booklets."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def reader() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            booklet_id, account_id = random.choice(pairs)
            session = Session(account_id, Role.THERAPIST, 2**62)
            await entry_service.read(deps, functools.partial(_as, session), booklet_id,
                                     before=ENTRIES + 1, limit=PAGE)
            done += 1
            if done % 8 == 0:
                await asyncio.sleep(0)  # read_now never yields: let the batcher's timer run

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(reader() for _ in range(concurrency)))
    await deps.fetch_audit.flush()  # the recording's writes count against its own mode
    # CPU of every thread (the writer's too): steadier than wall time on a shared machine.
    return done / (time.perf_counter() - started), (time.process_time() - cpu) * 1e6 / done


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="secure-msg-bench-accesslog-") as tmp:
        keys_dir = Path(tmp) / "keys"
        generate_key_files(keys_dir, system_rng)
        vault = load_vault(keys_dir, system_rng)
        db = await Database.open(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        pairs = await build(db, vault)
        print(f"built {BOOKLETS * ENTRIES} entries in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        booklets = BookletDeps(db, vault, SystemClock(), system_rng, 7, Hub())
        real = AuditBatcher(db)
        modes = {"none": EntryDeps(booklets, Hub(), 1 << 20, NullBatcher(db)),
                 "ranges": EntryDeps(booklets, Hub(), 1 << 20, real)}
        results: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for name, deps in modes.items():
                results[name].append(await run_mode(deps, pairs, args.seconds,
                                                    args.concurrency))
        floor = statistics.median(r for r, _ in results["none"])
        cpu_floor = statistics.median(c for _, c in results["none"])
        print(f"entry pages of {PAGE}, {args.concurrency} tasks, {args.rounds} rounds of "
              f"{args.seconds:.0f} s (medians; then each round's pages/s):")
        for name, values in results.items():
            med = statistics.median(r for r, _ in values)
            cpu = statistics.median(c for _, c in values)
            print(f"  {name:<7} {med:6.0f} pages/s ({100 * med / floor:5.1f} %), "
                  f"{cpu:5.0f} µs CPU/page ({100 * cpu / cpu_floor:5.1f} %)   "
                  f"{', '.join(f'{r:.0f}' for r, _ in values)}")
        seqs = list(range(51, 101))
        scattered = list(range(1, 101, 2))
        for label, page in (("a page of 50 in a row", seqs), ("50 scattered", scattered)):
            us = 1000 * _median_ms(functools.partial(fetch_details, page), 2000)
            old = 1000 * _median_ms(functools.partial(_counts_only, page), 2000)
            print(f"  the record's detail for {label}: {us:.1f} µs with ranges, "
                  f"{old:.1f} µs as counts only")

        booklet_id, account_id = pairs[0]
        session = Session(account_id, Role.THERAPIST, 2**62)
        target = booklet_target(booklet_id)
        # Pad the chain with other booklets' events, as a year of a practice's reads would.
        for _ in range(PAD_EVENTS // 10_000):
            await db.write(functools.partial(audit_store.append_audit_events_txn, events=[
                (0, f"account:{os.urandom(16).hex()}", "entries.fetched",
                 booklet_target(os.urandom(16)), {"from": 1, "to": 50, "count": 50})
                for _ in range(10_000)]), inline=False)
        (events,) = await db.read(lambda c: c.execute(
            "SELECT COUNT(*) FROM audit_events").fetchone())

        t_pages = []
        for _ in range(200):
            t1 = time.perf_counter()
            await access_log.page(booklets, session, booklet_id, cursor=None, limit=50)
            t_pages.append((time.perf_counter() - t1) * 1000)
        conn = sqlite3.connect(Path(tmp) / "bench.db")
        scan = _median_ms(lambda: conn.execute(
            "SELECT seq FROM audit_events NOT INDEXED WHERE target = ? "
            "ORDER BY seq DESC LIMIT 51", (target,)).fetchall(), 20)
        conn.close()
        print(f"access log page of 50 on a chain of {events} events: median "
              f"{statistics.median(t_pages):.3f} ms through access_log.page; the same query "
              f"without the (target, seq) index: {scan:.2f} ms")
        await real.close()
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
