"""The outbox worker on a real database file, through the official `twilio` SDK to the local
Twilio server: what each kind of failure leaves behind, reconciling before any resend, the
deadline, taking over a dead process's claims, and the status poll. The clock is fixed (near
real time, since the Twilio server dates its messages with the real one) and moved by hand;
`drain` processes whatever is due."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from secure_msg.channels.claim_owner import FileClaimOwner
from secure_msg.channels.outbox import OutboxSettings, OutboxWorker
from secure_msg.channels.sms import TwilioSettings, TwilioSmsGateway
from secure_msg.channels.sms_retry import OutboxRetry
from secure_msg.clock import FixedClock
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.errors import DatabaseUnavailable
from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import Language, NoticeKind, NoticeRenderer
from secure_msg.model.notices import NewNotice, render_slots
from secure_msg.services.core import Core
from secure_msg.storage import notices as store
from secure_msg.storage.db import Database
from secure_msg.testing.twilio_faults import Fault, FaultKind
from secure_msg.testing.twilio_server import RunningTwilioServer
from secure_msg.testing.twilio_state import StoredMessage, now
from secure_msg.testing.twilio_webhooks import new_sid

from .conftest import OwnerProcess

TO = "+358401112222"
HOUR = 3_600_000
SECOND = 1000


@dataclass
class Rig:
    db: Database
    vault: Vault
    clock: FixedClock
    twilio: RunningTwilioServer
    worker: OutboxWorker
    settings: TwilioSettings

    async def notice(self, key: str, *, kind: NoticeKind = NoticeKind.CANCELLED_BY_THERAPIST,
                     starts_in_ms: int = 48 * HOUR, to: str = TO) -> int:
        now_ms = self.clock.now_ms()
        start = now_ms + starts_in_ms
        slots: dict[str, int | str] = ({"date": start, "time": start}
                                       if kind is NoticeKind.CANCELLED_BY_THERAPIST
                                       else {"link": "https://msg.example.fi/"})
        n = NewNotice(key, Channel.SMS, to, kind, Language.FI, slots, now_ms)

        def txn(conn: sqlite3.Connection) -> int:
            store.enqueue_txn(conn, self.vault, n, now_ms)
            return store.notice_id_txn(conn, key)

        return await self.db.write(txn)

    async def row(self, notice_id: int) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> dict[str, Any]:
            cursor = conn.execute("SELECT * FROM notices WHERE id = ?", (notice_id,))
            names = [d[0] for d in cursor.description]
            return dict(zip(names, cursor.fetchone(), strict=True))

        return await self.db.read(txn)

    async def drain(self, advance_s: float = 0.0) -> None:
        self.clock.advance(advance_s)
        async with asyncio.timeout(10):
            await self.worker.drain()

    def fault(self, kind: FaultKind, count: int = 1, **kw: Any) -> None:
        self.twilio.state.faults.queue(Fault(kind, **kw), count)

    def messages(self) -> list[StoredMessage]:
        return list(self.twilio.state.messages.values())

    def lists(self) -> int:
        return sum(1 for r in self.twilio.state.reads if r["kind"] == "list")


def worker_for(core: Core, gateway: TwilioSmsGateway, **settings: Any) -> OutboxWorker:
    base = OutboxSettings(
        rate_per_second=1000, retry=OutboxRetry(base_delay=1.0, max_delay=8.0,
                                                reconcile_delay=2.0),
        horizon_ms=HOUR, status_poll_after_ms=60 * SECOND)
    return OutboxWorker(core, NoticeRenderer.load(link_origin="https://msg.example.fi"),
                        replace(base, **settings), sms=gateway, rand=lambda: 0.0)


@pytest.fixture
async def rig(db: Database, vault: Vault, twilio_server: RunningTwilioServer,
              settings: TwilioSettings) -> AsyncIterator[Rig]:
    clock = FixedClock(time.time_ns() // 1_000_000)
    # As the service runs it: one attempt per send, every retry back through the outbox.
    single = replace(settings, max_attempts_per_send=1, max_inline_wait=0.0)
    worker = worker_for(Core(db, vault, clock, system_rng), TwilioSmsGateway(single))
    rig = Rig(db, vault, clock, twilio_server, worker, single)
    yield rig
    await rig.worker.aclose()


async def test_an_accepted_500_is_reconciled_not_sent_twice(rig: Rig) -> None:
    """A 500 after the message was created leaves the notice ambiguous; its next claim lists
    Twilio's messages, finds it and adopts its sid: one SMS, state reconciled."""
    rig.fault(FaultKind.SERVER_ERROR, accepted=True)
    nid = await rig.notice("n1")
    await rig.drain()
    row = await rig.row(nid)
    assert (row["status"], row["reason"], row["attempts"], row["ambiguous"]) == (
        "ambiguous", "provider-error", 1, 1)
    assert row["next_attempt_ms"] == rig.clock.now_ms() + 2 * SECOND  # the reconcile delay
    await rig.drain(2)
    row = await rig.row(nid)
    [message] = rig.messages()
    assert (row["status"], row["provider_sid"]) == ("reconciled", message.sid)
    assert len(rig.twilio.state.attempts) == 1
    assert rig.worker.stats.reconciliations == {"reconciled": 1}


@pytest.mark.parametrize("kind", [FaultKind.SERVER_ERROR, FaultKind.RESET, FaultKind.TIMEOUT])
async def test_an_ambiguous_failure_that_created_nothing_is_sent_once_after_reconciling(
    rig: Rig, kind: FaultKind,
) -> None:
    """500, a reset or a timeout after the request went out, with nothing created: the
    reconcile finds nothing, so the notice is sent again, once."""
    rig.fault(kind, hang_seconds=2.0)
    nid = await rig.notice("n1")
    await rig.drain()
    assert (await rig.row(nid))["status"] == "ambiguous"
    await rig.drain(2)
    row = await rig.row(nid)
    [message] = rig.messages()
    assert (row["status"], row["provider_sid"], row["attempts"]) == ("sent", message.sid, 2)
    assert rig.lists() == 1
    assert rig.worker.stats.reconciliations == {"not-found": 1}


async def test_two_messages_found_is_duplicate_suspected(rig: Rig) -> None:
    """If the reconcile finds the same text to the same number twice, the notice is marked
    duplicate_suspected (the oldest sid adopted), audited, and never sent again."""
    rig.fault(FaultKind.TIMEOUT, accepted=True, hang_seconds=2.0)
    nid = await rig.notice("n1")
    await rig.drain()
    [first] = rig.messages()
    extra = new_sid("SM")
    rig.twilio.state.messages[extra] = replace(first, sid=extra, date_created=now())
    await rig.drain(2)
    row = await rig.row(nid)
    assert (row["status"], row["provider_sid"], row["reason"]) == (
        "duplicate_suspected", first.sid, "duplicate-suspected")
    assert len(rig.twilio.state.attempts) == 1
    audit = await rig.db.read(lambda c: c.execute(
        "SELECT action, detail FROM audit_events WHERE target = ?", (f"notice:{nid}",)).fetchall())
    assert [a for a, _ in audit] == ["notice.duplicate_suspected"]


async def test_a_message_another_notice_holds_is_not_adopted(rig: Rig) -> None:
    """Two notices with the same text to the same number: the one sent cleanly keeps its
    message, and the ambiguous one (nothing created) does not take it but sends its own."""
    clean = await rig.notice("ping:1", kind=NoticeKind.NEW_ENTRY_PING)
    await rig.drain()
    rig.fault(FaultKind.SERVER_ERROR)
    unsure = await rig.notice("ping:2", kind=NoticeKind.NEW_ENTRY_PING)
    await rig.drain()
    await rig.drain(2)
    rows = [await rig.row(clean), await rig.row(unsure)]
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert len({r["provider_sid"] for r in rows}) == 2
    assert len(rig.messages()) == 2


async def test_unreachable_is_queued_without_reconciling_and_sent_when_back(rig: Rig) -> None:
    """Twilio refusing connections created nothing: queued again with growing backoff, never
    ambiguous, no list calls; sent once when it answers again."""
    nid = await rig.notice("n1")
    await rig.twilio.go_offline()
    delays = []
    for _ in range(4):
        before = rig.clock.now_ms()
        await rig.drain()
        row = await rig.row(nid)
        assert (row["status"], row["reason"], row["ambiguous"]) == ("queued", "unreachable", 0)
        delays.append(row["next_attempt_ms"] - before)
        rig.clock.advance(delays[-1] / 1000)
    assert delays == [500, 1000, 2000, 4000]  # equal jitter at rand 0: half of 1, 2, 4, 8 s
    await rig.twilio.go_online()
    await rig.drain()
    assert (await rig.row(nid))["status"] == "sent"
    assert len(rig.messages()) == 1
    assert rig.lists() == 0


async def test_429s_do_not_use_up_attempts(rig: Rig, db: Database, vault: Vault) -> None:
    """With max_attempts 2, twelve 429s in a row still end in one sent SMS: each waits its
    Retry-After and none counts as an attempt."""
    await rig.worker.aclose()
    gateway = TwilioSmsGateway(rig.settings)
    rig.worker = worker_for(Core(db, vault, rig.clock, system_rng), gateway, max_attempts=2)
    rig.fault(FaultKind.RATE_LIMIT, count=12, retry_after=3)
    nid = await rig.notice("n1")
    for _ in range(12):
        await rig.drain()
        row = await rig.row(nid)
        assert (row["status"], row["reason"], row["attempts"]) == ("queued", "rate-limited", 0)
        assert row["next_attempt_ms"] - rig.clock.now_ms() >= 3 * SECOND
        rig.clock.advance(3.5)
    await rig.drain()
    row = await rig.row(nid)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    assert len(rig.messages()) == 1


async def test_an_appointment_notice_expires_when_the_appointment_begins(rig: Rig) -> None:
    """Retried while Twilio is unreachable, a notice about an appointment 1.5 s away ends
    expired (audited, reason appointment-started) once it begins, and is never sent."""
    nid = await rig.notice("n1", starts_in_ms=1500)
    await rig.twilio.go_offline()
    await rig.drain()
    row = await rig.row(nid)
    assert row["next_attempt_ms"] == rig.clock.now_ms() + 500
    await rig.drain(1)
    row = await rig.row(nid)
    assert row["next_attempt_ms"] == rig.clock.now_ms() + 500  # 1 s of backoff, capped
    await rig.twilio.go_online()
    await rig.drain(0.5)
    row = await rig.row(nid)
    assert (row["status"], row["reason"]) == ("expired", "appointment-started")
    assert rig.messages() == []
    audit = await rig.db.read(lambda c: c.execute(
        "SELECT action FROM audit_events WHERE target = ?", (f"notice:{nid}",)).fetchall())
    assert audit == [("notice.expired",)]


async def test_other_notices_expire_at_the_horizon(rig: Rig) -> None:
    nid = await rig.notice("ping:1", kind=NoticeKind.NEW_ENTRY_PING)
    rig.clock.advance(HOUR / 1000)
    await rig.drain()
    row = await rig.row(nid)
    assert (row["status"], row["reason"], row["attempts"]) == ("expired", "retry-horizon", 0)


async def test_an_ambiguous_notice_past_its_deadline_is_reconciled_not_expired(rig: Rig) -> None:
    """Expiry never hides a message that went out: an ambiguous notice is looked up first."""
    rig.fault(FaultKind.SERVER_ERROR, accepted=True)
    nid = await rig.notice("n1", starts_in_ms=1 * SECOND)
    await rig.drain()
    await rig.drain(5)
    assert (await rig.row(nid))["status"] == "reconciled"


async def test_a_failed_reconcile_leaves_it_ambiguous_and_sends_nothing(rig: Rig) -> None:
    """When the list cannot be read (Twilio unreachable), nothing is sent: the notice stays
    ambiguous and is reconciled when Twilio answers again."""
    rig.fault(FaultKind.RESET, accepted=True)
    nid = await rig.notice("n1")
    await rig.drain()
    await rig.twilio.go_offline()
    await rig.drain(2)
    row = await rig.row(nid)
    assert (row["status"], row["reason"], row["attempts"]) == (
        "ambiguous", "reconcile-unreachable", 1)
    await rig.twilio.go_online()
    await rig.drain(row["next_attempt_ms"] / 1000 - rig.clock.now_ms() / 1000)
    assert (await rig.row(nid))["status"] == "reconciled"
    assert len(rig.messages()) == 1
    assert rig.worker.stats.reconciliations == {"error": 1, "reconciled": 1}


async def test_claims_of_a_killed_process_are_taken_over_at_once(
    rig: Rig, tmp_path: Path, owner_process: OwnerProcess,
) -> None:
    """A notice claimed by a process that was then killed (its create may have gone out) is
    released at start by a process that can prove it gone, reconciled, and not sent twice; a
    live process's claim is left alone until its lease runs out."""
    owners = tmp_path / "owners"
    dead_id, live_id = "d" * 32, "e" * 32
    kill = owner_process(owners, dead_id)
    live = FileClaimOwner(owners, live_id)
    dead_nid, live_nid = await rig.notice("n1"), await rig.notice("n2")
    lease, at = 60 * SECOND, rig.clock.now_ms()
    [dead_claim] = await rig.db.write(lambda c: store.claim_due_txn(
        c, rig.vault, at, 1, lease, ["sms"], dead_id))
    await rig.db.write(lambda c: store.claim_due_txn(c, rig.vault, at, 1, lease, ["sms"], live_id))
    # The process that died had already sent its notice; someone else texted the number too.
    text = rig.worker.renderer.render(dead_claim.kind, dead_claim.language,
                                      render_slots(dead_claim.slots))
    async with TwilioSmsGateway(rig.settings) as gateway:
        await gateway.send(TO, text)
        await gateway.send(TO, "something else")
    kill()

    rig.worker.owner = FileClaimOwner(owners, "f" * 32)
    assert await rig.worker.recover() == 1
    await rig.drain(2)  # the reconcile delay, far less than the 60 s lease
    dead_row, live_row = await rig.row(dead_nid), await rig.row(live_nid)
    assert (dead_row["status"], dead_row["ambiguous"]) == ("reconciled", 1)
    assert live_row["status"] == "sending"
    assert len([m for m in rig.messages() if m.body == text]) == 1
    assert not (owners / f"{dead_id}.lock").exists()
    live.close_now()


async def test_a_missed_callback_is_settled_by_polling(rig: Rig) -> None:
    """A sent notice that heard nothing for status_poll_after is polled: Twilio's delivered
    moves it on; an undelivered one is audited like its callback would have been."""
    rig.twilio.state.callback_delay = 0.01
    ok, bad = await rig.notice("n1"), await rig.notice("n2", to="+358401113333")
    rig.twilio.state.faults.stick("+358401113333", Fault(FaultKind.UNDELIVERED))
    await rig.drain()
    await rig.db.write(lambda c: _sent_email(c, rig))  # nothing to ask: never polled
    await asyncio.sleep(0.1)  # the Twilio side moves on; its callbacks go nowhere
    assert await rig.worker.poll_statuses() == 0  # not quiet long enough yet
    rig.clock.advance(61)
    assert await rig.worker.poll_statuses() == 2
    assert [(await rig.row(n))["status"] for n in (ok, bad)] == ["delivered", "undelivered"]
    assert await rig.worker.poll_statuses() == 0
    assert rig.worker.stats.polls == {"answered": 2}


def _sent_email(conn: sqlite3.Connection, rig: Rig) -> None:
    now_ms = rig.clock.now_ms()
    store.enqueue_txn(conn, rig.vault, NewNotice(
        "mail:1", Channel.EMAIL, "mum@example.fi", NoticeKind.NEW_ENTRY_PING, Language.FI,
        {"link": "https://msg.example.fi/"}, now_ms), now_ms)
    [claimed] = store.claim_due_txn(conn, rig.vault, now_ms, 1, 60 * SECOND, ["email"])
    store.mark_sent_txn(conn, claimed.id, "smtp:250 ok", 0, now_ms)
    assert conn.execute("SELECT status FROM notices WHERE id = ?", (claimed.id,)).fetchone() == (
        "sent",)


async def test_claims_that_fail_do_not_end_the_worker(rig: Rig,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The database away for a while (PostgreSQL restarting: each write fails at once with
    DatabaseUnavailable): the worker claims again after its idle wait instead of ending, and
    a notice queued before the outage is sent once the database answers again."""
    await rig.notice("n1")
    real_write, failed = rig.db.write, 0

    async def write(fn: Any, **kw: Any) -> Any:
        nonlocal failed
        if failed < 3:
            failed += 1
            raise DatabaseUnavailable
        return await real_write(fn, **kw)

    monkeypatch.setattr(rig.db, "write", write)
    rig.worker.settings = replace(rig.worker.settings, idle_poll_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.worker.run(stop))
    try:
        for _ in range(500):  # 10 s at most
            if rig.messages() or task.done():
                break
            rig.clock.advance(0.1)  # a retry comes due if a busy machine made one needed
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    assert failed == 3
    assert len(rig.messages()) == 1
