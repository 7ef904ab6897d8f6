"""Two app processes on one PostgreSQL database run the outbox and the scheduler (issue 18:
"each notice sent once when both run the outbox").

Two real servers (the practice's and a peer started beside it with its own working directory,
as on another host), one database, the local Twilio-compatible server counting what leaves:

- both send, and each of 40 notices (cancellations sent at once, reminders the scheduler
  queues) goes out once; the scheduler ran in one process only (its leader);
- the process holding claims is killed mid-send: the other proves it gone by its session lock
  at once and takes its claims (reconciling each with Twilio first), long before their lease;
- the scheduler's leader is killed: the other leads within one interval and sends the next
  reminder.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from secure_msg.storage.db import DATABASE_URL_ENV
from secure_msg.testing.server_process import ServerProcess, start_peer

from .conftest import HELSINKI, Practice, free_port, local_ms, steady_day

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]
DAY = 86_400_000
MINUTE = 60_000


@pytest.fixture
def backend() -> str:
    return "postgresql"


def _peer(p: Practice, tmp_path: Path) -> ServerProcess:
    port = free_port()
    return start_peer(p.server, tmp_path / "peer", env={
        "SECURE_MSG_SERVER_PORT": str(port),
        "SECURE_MSG_SERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})


def _day(offset_days: int) -> date:
    return datetime.now(HELSINKI).date() + timedelta(days=offset_days)


def _at(day: date, hour: int, minute: int = 0) -> int:
    return local_ms(day.year, day.month, day.day, hour, minute)


def _rows(p: Practice) -> list[dict[str, Any]]:
    with psycopg.connect(p.server.env[DATABASE_URL_ENV], autocommit=True) as conn:
        cursor = conn.execute(
            "SELECT id, status, claimed_by, claimed_until_ms FROM notices ORDER BY id")
        return [{"id": r[0], "status": r[1], "claimed_by": r[2], "claimed_until_ms": r[3]}
                for r in cursor]


async def _metrics(p: Practice, server: ServerProcess) -> dict[str, dict[Any, float]]:
    async with p.http.get(server.url("/metrics")) as response:
        assert response.status == 200
        text = await response.text()
    return {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
            for f in text_string_to_metric_families(text)}


async def _sent_by(p: Practice, server: ServerProcess) -> float:
    attempts = (await _metrics(p, server)).get("secure_msg_outbox_attempts", {})
    return attempts.get((("outcome", "sent"),), 0.0)


async def _scheduler(p: Practice, server: ServerProcess) -> tuple[float, float]:
    """(leads now, ticks run as leader) of one process."""
    figures = await _metrics(p, server)
    return (figures["secure_msg_scheduler_leader"][()],
            figures["secure_msg_scheduler_ticks_total"][()])


async def _cancel_appointments(p: Practice, count: int) -> None:
    """Two cancellation SMS (mother, father) per session, each text its own time."""
    base = (time.time_ns() // 1_000_000 + 3 * DAY) // MINUTE * MINUTE
    for i in range(count):
        appointment = await p.schedule(base + i * 3_600_000)
        await p.call(p.therapist, "POST",
                     f"/api/booklets/{p.booklet}/appointments/{appointment['id']}/cancel")


def _once_each(p: Practice, expected: int) -> None:
    copies = Counter((m.to, m.body) for m in p.messages())
    assert len(copies) == expected
    assert set(copies.values()) == {1}, [k for k, v in copies.items() if v > 1]


async def test_both_send_and_each_notice_goes_once(
    practice_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    # 5/s each: a process holds at most 10 claims (twice its rate), so when the scheduler
    # queues 20 reminders at once, both processes must take some. A claim waits up to 2 s for
    # its turn to send: the lease (the practice's 2 s) must outlast that, or it is taken again.
    p: Practice = await practice_factory(rate=5, notices={"claim_lease_seconds": 30})
    peer = _peer(p, tmp_path)
    try:
        x = steady_day(7)
        for i in range(10):  # reminders, queued by the scheduler once their time comes
            await p.schedule(_at(x + timedelta(days=1), 10) + i * 15 * MINUTE)
        await _cancel_appointments(p, 10)  # 20 notices at once
        await p.wait_for(lambda: len(p.messages()) >= 20, within=30)
        p.set_now(_at(x, 13))  # every reminder (24 h before, in the day) is due
        await p.wait_for(lambda: len(p.messages()) >= 40, within=30)
        await p.wait_for(lambda: all(r["status"] in ("sent", "delivered") for r in _rows(p)))
        await asyncio.sleep(1.0)  # anything sent twice would be sent by now
        _once_each(p, 40)
        assert sum("Muistutus" in m.body for m in p.messages()) == 20
        assert len(_rows(p)) == 40

        sent = [await _sent_by(p, server) for server in (p.server, peer)]
        assert sum(sent) == 40
        assert all(n > 0 for n in sent), sent  # both outboxes took part
        roles = sorted([await _scheduler(p, server) for server in (p.server, peer)])
        assert roles[0] == (0, 0)  # the other never ran a tick
        assert roles[1][0] == 1
        assert roles[1][1] > 0
    finally:
        peer.stop()


async def test_a_killed_process_s_claims_are_taken_at_once_and_sent(
    practice_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    """As the single-process kill -9 test (test_reminders_and_faults.py): every notice sent,
    duplicates bounded by what was in flight at the kill, but taken over by the running peer
    within seconds, not after the 60 s lease."""
    p: Practice = await practice_factory(rate=1, notices={"claim_lease_seconds": 60})
    await _cancel_appointments(p, 6)
    # The practice's process claims first, alone: its owner id is the one in the rows.
    await p.wait_for(lambda: any(r["status"] == "sending" for r in _rows(p)), within=30)
    [owner] = {r["claimed_by"] for r in _rows(p) if r["status"] == "sending"}
    peer = _peer(p, tmp_path)
    try:
        def killed_holds_claims() -> bool:
            return any(r["status"] == "sending" and r["claimed_by"] == owner for r in _rows(p))

        await p.wait_for(killed_holds_claims, within=30)
        p.server.kill()
        killed_at, killed_ms = time.monotonic(), time.time_ns() // 1_000_000

        def released() -> bool:  # due again after the reconcile delay (0.2 s), not the lease
            return all(r["claimed_until_ms"] <= killed_ms + 3_000 for r in _rows(p)
                       if r["status"] == "sending" and r["claimed_by"] == owner)

        # The peer looks for gone owners each second.
        await p.wait_for(released, within=5)  # 1 s, with room for a loaded machine
        # Then claims them again (reconciling each first) as it has room (at 1/s it holds 4).
        await p.wait_for(lambda: not killed_holds_claims(), within=15)

        def settled() -> bool:
            rows = _rows(p)
            return len(rows) == 12 and all(
                r["status"] in ("sent", "delivered", "reconciled") for r in rows)

        await p.wait_for(settled, within=45)
        taken_over_in = time.monotonic() - killed_at
        assert taken_over_in < 20, taken_over_in  # the lease is 60 s
        assert len({(m.to, m.body) for m in p.messages()}) == 12
        assert len(p.messages()) - 12 <= 4  # at most the in-flight claims were repeated
        figures = await _metrics(p, peer)
        assert figures["secure_msg_outbox_claims_recovered"][()] >= 1
    finally:
        peer.stop()


async def test_the_scheduler_leader_killed_the_other_leads_within_an_interval(
    practice_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    interval = 1.0
    p: Practice = await practice_factory(
        notices={"scheduler_interval_ms": int(interval * 1000)})
    peer = _peer(p, tmp_path)
    try:
        x = steady_day(7)
        await p.schedule(_at(x + timedelta(days=1), 15))
        servers = (p.server, peer)

        async def one_leads() -> bool:
            return sum([(await _scheduler(p, s))[0] for s in servers]) == 1

        await p.wait_for(one_leads, within=5)
        roles = [await _scheduler(p, s) for s in servers]
        leader, other = servers if roles[0][0] == 1 else servers[::-1]
        assert await _scheduler(p, other) == (0, 0)
        leader.kill()
        p.set_now(_at(x, 15) + 1000)  # the reminder is due now
        due_at = time.monotonic()
        await p.wait_for(lambda: len(p.messages()) == 2, within=10)
        took = time.monotonic() - due_at
        # The next try takes the freed lock (≤ 1 interval), its tick queues, the outbox sends.
        assert took < interval + 3.0, took  # ≈ 1 s here; the rest is a loaded machine's
        assert sum("Muistutus" in m.body for m in p.messages()) == 2
        leads, ticks = await _scheduler(p, other)
        assert leads == 1
        assert ticks >= 1
        await asyncio.sleep(interval)
        _once_each(p, 2)
    finally:
        peer.stop()
