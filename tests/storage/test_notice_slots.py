"""Outbox slots that carry a secret: the invitation link is sealed at rest and redacted once the
notice will not be sent again; other kinds keep their plain slots."""

from __future__ import annotations

import json
import sqlite3

from secure_msg.clock import FixedClock
from secure_msg.crypto.vault import Vault
from secure_msg.model.channel_policy import Channel
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.model.notices import NewNotice
from secure_msg.storage import notices as store
from secure_msg.storage.db import Database

LINK = "https://msg.example.fi/enroll/" + "A" * 20 + "secret-token-xyz" + "B" * 7


def _notice(key: str, kind: NoticeKind, slots: dict[str, str | int]) -> NewNotice:
    return NewNotice(key, Channel.SMS, "+358401112222", kind, Language.FI, slots, 0)


def _slots(conn: sqlite3.Connection, key: str) -> str:
    return str(conn.execute("SELECT slots FROM notices WHERE dedupe_key = ?", (key,)
                            ).fetchone()[0])


async def test_invitation_link_sealed_opened_on_claim_redacted_when_final(
    db: Database, vault: Vault, clock: FixedClock,
) -> None:
    """The stored slots never contain the link; a claim opens it; sent and failed rows end with
    a redacted marker; a retried row keeps it sealed; a reminder's slots stay plain."""
    now = clock.now_ms()

    def enqueue(conn: sqlite3.Connection) -> None:
        for key in ("inv:sent", "inv:failed", "inv:retry"):
            store.enqueue_txn(conn, vault, _notice(key, NoticeKind.INVITATION, {"link": LINK}),
                              now)
        store.enqueue_txn(conn, vault, _notice(
            "rem", NoticeKind.REMINDER, {"date": now, "time": now, "code": "1234"}), now)

    await db.write(enqueue)
    stored = await db.read(lambda c: _slots(c, "inv:sent"))
    assert "secret-token-xyz" not in stored
    assert json.loads(stored)["link"].startswith(store.SEALED_PREFIX)
    claimed = await db.write(lambda c: store.claim_due_txn(
        c, vault, now, 10, 60_000, ["sms"]))
    by_key = {n.dedupe_key: n for n in claimed}
    assert by_key["inv:sent"].slots == {"link": LINK}
    assert by_key["rem"].slots["code"] == "1234"

    def outcomes(conn: sqlite3.Connection) -> None:
        store.mark_sent_txn(conn, by_key["inv:sent"].id, "SM1", 0, now)
        store.mark_final_txn(conn, by_key["inv:failed"].id, "failed", "invalid-number", 21211,
                             now)
        store.mark_retry_txn(conn, by_key["inv:retry"].id, now, 0, "server-error", now)
        store.mark_sent_txn(conn, by_key["rem"].id, "SM2", 0, now)

    await db.write(outcomes)
    rows = await db.read(lambda c: {k: _slots(c, k) for k in
                                    ("inv:sent", "inv:failed", "inv:retry", "rem")})
    assert json.loads(rows["inv:sent"]) == {"link": store.REDACTED}
    assert json.loads(rows["inv:failed"]) == {"link": store.REDACTED}
    assert json.loads(rows["inv:retry"])["link"].startswith(store.SEALED_PREFIX)
    assert json.loads(rows["rem"])["code"] == "1234"
    again = await db.write(lambda c: store.claim_due_txn(c, vault, now, 10, 60_000, ["sms"]))
    assert [n.slots for n in again] == [{"link": LINK}]
