"""Issue 15's acceptance: the outbox under provider faults and outages, on the real server (a
subprocess), the local Twilio-compatible server with fault injection, and the official SDK.

What the Twilio side holds is the truth every notice is checked against: each notice's sid is a
message there with its own number and text, no notice is lost or shown failed although it went
out, and at most one went twice. Notices and their sids are read from the server's database
file; the outbox figures from its /metrics."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from secure_msg.testing.twilio_faults import Fault, FaultBook, FaultKind

from .conftest import DAD_PHONE, MUM_PHONE, Practice

pytestmark = pytest.mark.slow
DAY = 86_400_000


def _rows(p: Practice) -> list[dict[str, Any]]:
    with sqlite3.connect(p.server.db_path, timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(
            "SELECT id, status, reason, provider_sid, attempts, ambiguous FROM notices"
            " ORDER BY id")]


async def _metrics(p: Practice) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """/metrics as {family: {labels: value}}, parsed by prometheus_client's own parser."""
    async with p.http.get(p.server.url("/metrics")) as response:
        assert response.status == 200
        text = await response.text()
    return {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
            for f in text_string_to_metric_families(text)}


def _by_status(figures: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> dict[str, float]:
    return {dict(labels)["status"]: v for labels, v in figures["secure_msg_outbox_notices"].items()}


async def _cancel_appointments(p: Practice, count: int) -> None:
    """Schedule and cancel `count` sessions: two cancellation SMS each (mother, father), each
    text different (its own time)."""
    base = (time.time_ns() // 1_000_000 + 3 * DAY) // 60_000 * 60_000
    for i in range(count):
        appointment = await p.schedule(base + i * 3_600_000)
        await p.call(p.therapist, "POST",
                     f"/api/booklets/{p.booklet}/appointments/{appointment['id']}/cancel")


def _check_against_twilio(p: Practice, expected: int) -> list[dict[str, Any]]:
    """Every notice matches what Twilio holds: its sid is one of Twilio's messages, no two
    notices share a (number, text), every (number, text) at Twilio belongs to a notice, a
    notice found twice says duplicate_suspected, and the delivered ones are delivered there.
    Returns the rows."""
    rows = _rows(p)
    assert len(rows) == expected
    messages = {m.sid: m for m in p.messages()}
    copies = Counter((m.to, m.body) for m in messages.values())
    assert all(r["provider_sid"] in messages for r in rows), [r for r in rows
                                                             if r["provider_sid"] not in messages]
    pairs = [(messages[r["provider_sid"]].to, messages[r["provider_sid"]].body) for r in rows]
    assert len(set(pairs)) == expected  # 0 lost: each notice its own message
    assert set(copies) == set(pairs)  # nothing at Twilio that no notice accounts for
    for row, pair in zip(rows, pairs, strict=True):
        twice = copies[pair] > 1
        assert (row["status"] == "duplicate_suspected") is twice, row
        if row["status"] == "delivered":
            assert messages[row["provider_sid"]].status == "delivered"
    return rows


async def test_fault_mix_and_a_kill_lose_nothing_and_show_what_twilio_holds(
    practice_factory: Any,
) -> None:
    """52 notices through a seeded random mix of 429, 500, timeouts and resets, before and
    after the message was created, and one kill -9 while notices are being sent (claim lease
    60 s: the new process must take the dead one's claims at once). Nothing is lost, nothing is
    failed or expired although Twilio has it, at most one notice went twice, and every notice
    ends matching Twilio (delivered, through callbacks or the status poll)."""
    p = await practice_factory(rate=20, notices={"claim_lease_seconds": 60,
                                                 "status_poll_after_seconds": 1})
    book = p.twilio.state.faults = FaultBook(seed=15)
    for kind in (FaultKind.SERVER_ERROR, FaultKind.TIMEOUT, FaultKind.RESET):
        for accepted in (False, True):
            book.add_random(Fault(kind, hang_seconds=1.5, accepted=accepted), 0.05)
    book.add_random(Fault(FaultKind.RATE_LIMIT, retry_after=1), 0.08)

    await _cancel_appointments(p, 26)

    def sending() -> bool:
        return len(p.messages()) >= 12 and any(r["status"] == "sending" for r in _rows(p))

    await p.wait_for(sending, within=30)
    p.server.kill()
    killed_at = time.monotonic()
    p.server.start()

    def settled() -> bool:
        return all(r["status"] in ("delivered", "duplicate_suspected") for r in _rows(p))

    await p.wait_for(settled, within=45)
    assert time.monotonic() - killed_at < 40  # not held up by the 60 s lease
    rows = _check_against_twilio(p, 52)
    duplicates = sum(c - 1 for c in Counter((m.to, m.body) for m in p.messages()).values())
    assert duplicates <= 1
    faults = Counter(a["fault"] for a in p.twilio.state.attempts)
    assert {"429", "500", "timeout", "reset"} <= set(faults), faults  # the mix really ran
    assert any(r["ambiguous"] for r in rows)  # some were unclear, and were reconciled

    figures = await _metrics(p)
    assert _by_status(figures)["delivered"] == sum(r["status"] == "delivered" for r in rows)
    assert {s: _by_status(figures)[s] for s in ("queued", "sending", "ambiguous", "failed")} == {
        "queued": 0, "sending": 0, "ambiguous": 0, "failed": 0}
    assert figures["secure_msg_outbox_claims_recovered"][()] >= 1  # the dead one's claims
    assert sum(figures["secure_msg_outbox_attempts"].values()) > 0
    assert figures["secure_msg_outbox_oldest_due_age_seconds"][()] == 0


async def test_twilio_unreachable_for_60_s_then_every_notice_goes_once(
    practice_factory: Any,
) -> None:
    """Twilio refuses every connection for 60 s while ten notices are queued. None fails or is
    taken for possibly sent (nothing was written, so there is nothing to reconcile); /metrics
    shows them waiting; when Twilio is back each is sent exactly once."""
    p = await practice_factory(notices={"retry_max_delay_ms": 5000})
    await p.twilio.go_offline()
    outage = time.monotonic()
    await _cancel_appointments(p, 5)
    await asyncio.sleep(max(0.0, 55 - (time.monotonic() - outage)))
    # Each is still tried every few seconds, and is `sending` for the milliseconds an attempt
    # takes: none is ever failed or ambiguous, and between attempts all are queued.
    assert {r["status"] for r in _rows(p)} <= {"queued", "sending"}
    rows: list[dict[str, Any]] = []

    def all_queued() -> bool:
        rows[:] = _rows(p)
        return [r["status"] for r in rows] == ["queued"] * 10

    await p.wait_for(all_queued, within=5)
    assert {r["reason"] for r in rows} == {"unreachable"}
    assert not any(r["ambiguous"] for r in rows)
    figures = await _metrics(p)
    assert _by_status(figures)["queued"] + _by_status(figures)["sending"] == 10
    assert figures["secure_msg_outbox_oldest_due_age_seconds"][()] >= 50
    assert figures["secure_msg_outbox_attempts"][(("outcome", "not-sent"),)] >= 10
    await asyncio.sleep(max(0.0, 60 - (time.monotonic() - outage)))
    await p.twilio.go_online()
    await p.wait_for(lambda: len(p.messages()) == 10, within=15)

    def delivered() -> bool:
        return all(r["status"] == "delivered" for r in _rows(p))

    await p.wait_for(delivered)
    _check_against_twilio(p, 10)
    assert Counter(m.to for m in p.messages()) == {MUM_PHONE: 5, DAD_PHONE: 5}
    assert [r for r in p.twilio.state.reads if r["kind"] == "list"] == []


async def test_twenty_429s_send_the_notice_once_and_do_not_fail_it(
    practice_factory: Any,
) -> None:
    """Twenty 429s with Retry-After: 1 in a row to one number, with max_attempts 3: the notice
    waits each Retry-After out, none counts as an attempt, and it is sent once."""
    p = await practice_factory(notices={"max_attempts": 3})
    await p.faults(kind="429", number=MUM_PHONE, count=20, retry_after=1)
    await _cancel_appointments(p, 1)
    await p.wait_for(lambda: len(p.messages(MUM_PHONE)) == 1, within=40)
    to_mum = [a for a in p.twilio.state.attempts if a["to"] == MUM_PHONE]
    assert [a["fault"] for a in to_mum] == ["429"] * 20 + [None]
    times = [datetime.fromisoformat(a["at"]) for a in to_mum]
    assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(times))
    await p.wait_for(lambda: all(r["status"] == "delivered" for r in _rows(p)))
    mum = next(r for r in _rows(p) if r["provider_sid"] == p.messages(MUM_PHONE)[0].sid)
    assert (mum["attempts"], mum["ambiguous"]) == (1, 0)
    assert len(p.messages()) == 2


async def test_a_callback_missed_while_down_is_settled_by_polling(
    practice_factory: Any,
) -> None:
    """The server is killed after its notices were sent and before Twilio's status callbacks
    (which Twilio does not retry) arrive; after it starts again, polling the status of notices
    that heard nothing settles them as delivered."""
    p = await practice_factory(notices={"status_poll_after_seconds": 1})
    p.twilio.state.callback_delay = 1.0
    await _cancel_appointments(p, 1)
    await p.wait_for(lambda: [r["status"] for r in _rows(p)] == ["sent", "sent"])
    p.server.kill()
    await p.wait_for(lambda: all(m.status == "delivered" for m in p.messages()), within=10)
    missed = [c for c in p.twilio.state.callbacks if c["error"]]
    assert {c["params"]["MessageSid"] for c in missed} == {m.sid for m in p.messages()}
    p.server.start()
    await p.wait_for(lambda: all(r["status"] == "delivered" for r in _rows(p)))
    fetched = {r["sid"] for r in p.twilio.state.reads if r["kind"] == "fetch"}
    assert fetched == {m.sid for m in p.messages()}
    _check_against_twilio(p, 2)
