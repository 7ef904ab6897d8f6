"""Every status change the notice store makes is an edge of the lifecycle table, and every edge
is made by some store function: each function is driven from every status on a real database
file. From a status the table does not let become its target, a call changes nothing (no error),
as today: a late or repeated outcome is ignored."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from secure_msg.clock import FixedClock
from secure_msg.crypto.vault import Vault
from secure_msg.model.channel_policy import Channel
from secure_msg.model.lifecycle import edges, sources
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.model.notices import TRANSITIONS, NewNotice, NoticeStatus
from secure_msg.storage import notices as store
from secure_msg.storage.db import Database

N = NoticeStatus
NOW = FixedClock().now_ms()
LATER = NOW + 1_000
SID = "SM" + "0" * 32
Call = Callable[[sqlite3.Connection, Vault, int], object]

# Each store function that moves a status, and the status it moves a notice to.
CALLS: dict[str, tuple[NoticeStatus, Call]] = {
    "claim": (N.SENDING, lambda c, v, i: store.claim_due_txn(c, v, LATER, 10, 60_000, ["sms"])),
    "sent": (N.SENT, lambda c, v, i: store.mark_sent_txn(c, i, SID, 0, LATER)),
    "retry": (N.QUEUED, lambda c, v, i: store.mark_retry_txn(c, i, LATER, 0, "unreachable",
                                                             LATER)),
    "ambiguous": (N.AMBIGUOUS, lambda c, v, i: store.mark_retry_txn(
        c, i, LATER, 1, "provider-error", LATER, status=N.AMBIGUOUS)),
    "reconciled": (N.RECONCILED, lambda c, v, i: store.mark_found_txn(
        c, i, N.RECONCILED, SID, LATER)),
    "duplicate": (N.DUPLICATE_SUSPECTED, lambda c, v, i: store.mark_found_txn(
        c, i, N.DUPLICATE_SUSPECTED, SID, LATER)),
    "expired": (N.EXPIRED, lambda c, v, i: store.mark_final_txn(
        c, i, "expired", "appointment-started", None, LATER)),
    "failed": (N.FAILED, lambda c, v, i: store.mark_final_txn(c, i, "failed", "invalid-number",
                                                              21211, LATER)),
    "skipped": (N.SKIPPED, lambda c, v, i: store.mark_final_txn(
        c, i, "skipped", "appointment-not-scheduled", None, LATER)),
    "callback delivered": (N.DELIVERED, lambda c, v, i: store.apply_callback_txn(
        c, SID, "delivered", None, LATER)),
    "callback undelivered": (N.UNDELIVERED, lambda c, v, i: store.apply_callback_txn(
        c, SID, "undelivered", 30003, LATER)),
    "callback failed": (N.UNDELIVERED, lambda c, v, i: store.apply_callback_txn(
        c, SID, "failed", 30008, LATER)),
}


def _row(conn: sqlite3.Connection, notice_id: int) -> dict[str, Any]:
    cursor = conn.execute("SELECT * FROM notices WHERE id = ?", (notice_id,))
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _enqueue(conn: sqlite3.Connection, vault: Vault) -> int:
    notice = NewNotice("rem:1", Channel.SMS, "+358401112222", NoticeKind.REMINDER, Language.FI,
                       {"date": NOW, "time": NOW, "code": "1234"}, NOW)
    assert store.enqueue_txn(conn, vault, notice, NOW)
    return store.notice_id_txn(conn, "rem:1")


def _put(conn: sqlite3.Connection, notice_id: int, status: NoticeStatus) -> None:
    """Put the row in `status` directly, due for a claim (lease run out) and with a sid."""
    conn.execute("UPDATE notices SET status = ?, next_attempt_ms = ?, claimed_until_ms = ?,"
                 " provider_sid = ?, attempts = 1, ambiguous = 0, reason = NULL,"
                 " error_code = NULL, updated_at_ms = ? WHERE id = ?",
                 (status.value, NOW, NOW, SID, NOW, notice_id))


async def test_store_status_changes_are_exactly_the_table(db: Database, vault: Vault) -> None:
    def txn(conn: sqlite3.Connection) -> set[tuple[NoticeStatus, NoticeStatus]]:
        notice_id = _enqueue(conn, vault)
        made: set[tuple[NoticeStatus, NoticeStatus]] = set()
        for name, (target, call) in CALLS.items():
            for old in N:
                _put(conn, notice_id, old)
                before = _row(conn, notice_id)
                call(conn, vault, notice_id)
                after = _row(conn, notice_id)
                if old in sources(TRANSITIONS, target):
                    assert after["status"] == target, (name, old)
                    assert after["updated_at_ms"] == LATER, (name, old)
                    made.add((old, N(after["status"])))
                else:  # refused: nothing at all changes
                    assert after == before, (name, old)
        return made

    made = await db.write(txn)
    assert made == edges(TRANSITIONS)


async def test_the_initial_status_is_queued(db: Database, vault: Vault) -> None:
    status = await db.write(lambda c: _row(c, _enqueue(c, vault))["status"])
    assert status == N.QUEUED


async def test_late_callbacks_are_ignored_and_reported_as_before(
    db: Database, vault: Vault,
) -> None:
    """A late `sent` or `undelivered` after `delivered` changes nothing and returns the current
    status; an unknown provider status or sid returns None."""

    def txn(conn: sqlite3.Connection) -> tuple[int, list[object]]:
        notice_id = _enqueue(conn, vault)
        _put(conn, notice_id, N.SENT)
        out: list[object] = [store.apply_callback_txn(conn, SID, "delivered", None, LATER)]
        out += [store.apply_callback_txn(conn, SID, s, 30003, LATER + 1)
                for s in ("sent", "undelivered", "failed", "read")]
        out.append(store.apply_callback_txn(conn, "SM" + "1" * 32, "delivered", None, LATER))
        row = _row(conn, notice_id)
        out.append((row["status"], row["error_code"], row["updated_at_ms"]))
        return notice_id, out

    notice_id, out = await db.write(txn)
    assert out == [
        (notice_id, "delivered"), (notice_id, "delivered"), (notice_id, "delivered"),
        (notice_id, "delivered"), None, None, ("delivered", None, LATER)]


async def test_a_worker_outcome_must_be_failed_or_skipped(db: Database, vault: Vault) -> None:
    def txn(conn: sqlite3.Connection) -> None:
        store.mark_final_txn(conn, _enqueue(conn, vault), "sent", "x", None, LATER)

    with pytest.raises(ValueError, match="not a final outcome"):
        await db.write(txn)
