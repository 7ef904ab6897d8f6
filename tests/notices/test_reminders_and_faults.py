"""Reminders, period notices and provider faults on the real server with an injected clock."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from secure_msg.model.appointments import minus_months
from secure_msg.testing.pytest_postgresql import both_backends

from .conftest import DAD_PHONE, HELSINKI, MUM_PHONE, local_ms, steady_day

pytestmark = pytest.mark.slow
DAY = 86_400_000


def _day(offset_days: int) -> date:
    return datetime.now(HELSINKI).date() + timedelta(days=offset_days)


def _at(day: date, hour: int, minute: int = 0) -> int:
    return local_ms(day.year, day.month, day.day, hour, minute)


async def _quiet(p: Any, seconds: float = 0.8) -> None:
    await asyncio.sleep(seconds)


async def test_reminders_once_never_in_quiet_hours_none_for_cancelled_across_restarts(
    practice_factory: Any,
) -> None:
    """One reminder per guardian 24 h before; a reminder due at 07:30 waits for 08:00; a
    cancelled appointment gets none; restarts (clean and kill -9) send nothing twice."""
    p = await practice_factory()
    x = steady_day(7)
    a = await p.schedule(_at(x + timedelta(days=1), 15))
    b = await p.schedule(_at(x + timedelta(days=2), 7, 30))
    c = await p.schedule(_at(x + timedelta(days=1), 16))
    await p.call(p.therapist, "POST", f"/api/booklets/{p.booklet}/appointments/{c['id']}/cancel")
    await p.wait_for(lambda: len(p.messages()) == 2)  # the cancellation of c
    p.set_now(_at(x, 15) + 1000)
    await p.wait_for(lambda: len(p.messages()) == 4)
    reminders = [m for m in p.messages() if "Muistutus" in m.body]
    assert sorted(m.to for m in reminders) == [MUM_PHONE, DAD_PHONE]
    assert all(f"PERU {a['cancel_code']}" in m.body for m in reminders)
    p.server.restart()
    await _quiet(p)
    assert len(p.messages()) == 4
    p.set_now(_at(x + timedelta(days=1), 7, 45))  # b's reminder is due, but it is quiet time
    await _quiet(p, 1.5)
    assert len(p.messages()) == 4
    p.server.kill()
    p.server.start()
    p.set_now(_at(x + timedelta(days=1), 8) + 1000)
    await p.wait_for(lambda: len(p.messages()) == 6)
    await _quiet(p)
    bodies = Counter(m.body for m in p.messages() if "Muistutus" in m.body)
    assert sorted(bodies.values()) == [2, 2]  # one per guardian per appointment, no more
    assert all(f"PERU {b['cancel_code']}" in body or f"PERU {a['cancel_code']}" in body
               for body in bodies)
    assert not any(c["cancel_code"] in m.body for m in p.messages())


async def test_period_shows_used_sessions_and_ending_notice_two_months_before(
    practice_factory: Any,
) -> None:
    """27 attended of 40 reads "27 of 40" for members; the period-ending notice goes on the
    day two months before the end, not the day before that."""
    p = await practice_factory()
    today = _day(0)
    end = today + timedelta(days=200)
    await p.call(p.therapist, "POST", f"/api/booklets/{p.booklet}/period", {
        "start": (today - timedelta(days=100)).isoformat(), "end": end.isoformat(),
        "sessions_granted": 40, "payer": "kela"})
    for i in range(28):
        appt = await p.schedule(_at(today - timedelta(days=90 - 3 * i), 10))
        status = "attended" if i < 27 else "no_show"
        await p.call(p.therapist, "POST",
                     f"/api/booklets/{p.booklet}/appointments/{appt['id']}/status",
                     {"status": status})
    seen = await p.call(p.mum, "GET", f"/api/booklets/{p.booklet}/period")
    assert (seen["used"], seen["sessions_granted"]) == (27, 40)
    assert seen["summary"] == f"used 27 of 40, period ends {end.isoformat()}"
    two_months = minus_months(end, 2)
    p.set_now(_at(two_months - timedelta(days=1), 13))
    await _quiet(p)
    assert p.messages() == []
    p.set_now(_at(two_months, 13))
    await p.wait_for(lambda: len(p.messages()) == 2)
    assert all("jakso päättyy" in m.body and f"{end.day}.{end.month}.{end.year}" in m.body
               for m in p.messages())
    await _quiet(p)
    assert len(p.messages()) == 2


async def _cancel_new(p: Any, hours: int = 0) -> dict[str, Any]:
    a = await p.schedule(time.time_ns() // 1_000_000 + 3 * DAY + hours * 3_600_000)
    result: dict[str, Any] = await p.call(
        p.therapist, "POST", f"/api/booklets/{p.booklet}/appointments/{a['id']}/cancel")
    return result


async def test_429_is_retried_after_retry_after_without_duplicates(practice_factory: Any) -> None:
    """A 429 with Retry-After: 1 is retried no sooner than a second later; one SMS each."""
    p = await practice_factory()
    await p.faults(kind="429", retry_after=1)
    await _cancel_new(p)
    await p.wait_for(lambda: len(p.messages()) == 2)
    attempts = p.twilio.state.attempts
    assert [x["fault"] for x in attempts].count("429") == 1
    limited = next(x for x in attempts if x["fault"] == "429")
    retry = next(x for x in attempts[attempts.index(limited) + 1:] if x["to"] == limited["to"])
    gap = datetime.fromisoformat(retry["at"]) - datetime.fromisoformat(limited["at"])
    assert gap >= timedelta(seconds=1)
    assert sorted(m.to for m in p.messages()) == [MUM_PHONE, DAD_PHONE]


async def test_500s_are_reconciled_before_each_resend_and_21610_opts_out(
    practice_factory: Any,
) -> None:
    """Persistent 500s leave the notice ambiguous, which the therapist sees; it is never given
    up for them, and every resend comes only after a lookup at Twilio found nothing. Once
    Twilio answers, it is sent once. 21610 marks the number opted out and later notices to it
    never reach Twilio."""
    p = await practice_factory()
    await p.faults(kind="500", number=MUM_PHONE)
    await p.faults(kind="21610", number=DAD_PHONE)
    await _cancel_new(p)

    def to_mum() -> list[dict[str, Any]]:
        return [x for x in p.twilio.state.attempts if x["to"] == MUM_PHONE]

    async def problems() -> dict[str, tuple[str, str]]:
        rows = (await p.call(p.therapist, "GET", "/api/notices/problems"))["notices"]
        return {n["reason"]: (n["status"], n["kind"]) for n in rows}

    await p.wait_for(lambda: len(to_mum()) >= 4, within=20)
    shown = await problems()
    assert shown["opted-out"] == ("failed", "cancelled_by_therapist")
    assert shown["provider-error"][0] == "ambiguous"  # also while it is being sent again
    lookups = [datetime.fromisoformat(r["at"]) for r in p.twilio.state.reads
               if r["kind"] == "list" and r["query"].get("To") == MUM_PHONE]
    for before, after in itertools.pairwise(to_mum()):
        start, end = datetime.fromisoformat(before["at"]), datetime.fromisoformat(after["at"])
        assert any(start < at < end for at in lookups)  # looked before sending again
    await p.faults(number=MUM_PHONE, clear=True)
    await p.wait_for(lambda: len(p.messages(MUM_PHONE)) == 1, within=10)

    async def settled() -> bool:
        return "provider-error" not in await problems()

    await p.wait_for(settled)
    assert len(p.messages(MUM_PHONE)) == 1
    dad_attempts = len([x for x in p.twilio.state.attempts if x["to"] == DAD_PHONE])
    await p.faults(number=DAD_PHONE, clear=True)
    await _cancel_new(p)
    await _quiet(p, 1.5)
    assert len([x for x in p.twilio.state.attempts if x["to"] == DAD_PHONE]) == dad_attempts


@pytest.mark.parametrize("backend", both_backends())
async def test_kill_9_with_notices_queued_loses_none(practice_factory: Any, backend: str) -> None:
    """Twelve queued notices, the server killed mid-way: after a restart every one is sent,
    with duplicates bounded by what was in flight at the kill, and every one is known delivered:
    a delivery callback that came while the server was down is made up for by a status poll.
    On both backends (PostgreSQL: the app process is killed, the database server goes on)."""
    p = await practice_factory(rate=2, notices={"status_poll_after_seconds": 2})
    for i in range(6):
        await _cancel_new(p, hours=i)
    await p.wait_for(lambda: len(p.messages()) >= 2)
    p.server.kill()
    p.server.start()
    await p.wait_for(lambda: len({(m.to, m.body) for m in p.messages()}) == 12, within=30)

    async def settled() -> bool:
        # Twilio does not retry a status callback the server missed while it was down; the
        # outbox asks for the status of a notice that heard nothing (status_poll_after).
        return {n["status"] for n in await p.notices()} == {"delivered"}

    await p.wait_for(settled, within=30)
    assert len(await p.notices()) == 12
    assert len(p.messages()) - 12 <= 4  # at most the in-flight claims were repeated
