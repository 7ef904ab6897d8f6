"""Read events (entries.fetched) are queued and written in batches, in order, on a real file."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from secure_msg.services.audit_batcher import AuditBatcher, PendingEvent
from secure_msg.storage import audit as audit_store
from secure_msg.storage.db import Database

ACTOR = "account:" + "ab" * 16


def _event(n: int) -> PendingEvent:
    return PendingEvent(at_ms=n, actor=ACTOR, action="entries.fetched",
                        target=f"booklet:{n:032x}", detail={"count": n})


async def _written(db: Database) -> list[int]:
    events = await db.read(lambda c: audit_store.list_events_txn(c, limit=10_000))
    return [int(str(e.detail["count"])) for e in events]


async def test_events_wait_for_the_interval_then_land_in_order_in_one_commit(
    db: Database,
) -> None:
    """Nothing is written at once; after the interval all of them are, in order, one commit."""
    batcher = AuditBatcher(db, interval=0.2)
    commits = db.stats.commits
    for n in range(1, 31):
        batcher.add(_event(n))
    assert await _written(db) == []
    await asyncio.sleep(0.5)
    assert await _written(db) == list(range(1, 31))
    assert db.stats.commits == commits + 1
    assert (await audit_store.verify(db)).ok
    await batcher.close()


async def test_a_full_queue_is_written_without_waiting(db: Database) -> None:
    """max_events queued: the batch goes at once, not after the (long) interval."""
    batcher = AuditBatcher(db, interval=3600, max_events=10)
    for n in range(1, 11):
        batcher.add(_event(n))
    assert batcher.pending() == 0
    await asyncio.sleep(0.2)
    assert await _written(db) == list(range(1, 11))
    await batcher.close()


async def test_close_writes_what_is_queued_and_refuses_more(db: Database) -> None:
    """Shutdown loses nothing queued; an event after close is a programming error."""
    batcher = AuditBatcher(db, interval=3600)
    for n in range(1, 4):
        batcher.add(_event(n))
    await batcher.close()
    assert await _written(db) == [1, 2, 3]
    with pytest.raises(RuntimeError):
        batcher.add(_event(4))


async def test_a_malformed_event_is_refused_alone(db: Database) -> None:
    """A bad actor or oversized detail fails at add(); the rest of the batch is written."""
    batcher = AuditBatcher(db, interval=3600)
    batcher.add(_event(1))
    with pytest.raises(ValueError, match="actor"):
        batcher.add(PendingEvent(1, "mum@example.org", "entries.fetched", "", {}))
    with pytest.raises(ValueError, match="detail"):
        batcher.add(PendingEvent(1, ACTOR, "entries.fetched", "", {"x": "y" * 5000}))
    batcher.add(_event(2))
    await batcher.flush()
    assert await _written(db) == [1, 2]
    await batcher.close()


async def test_a_failed_write_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If the database refuses the batch the reads were already answered: it is logged."""
    database = await Database.open(tmp_path / "x.db")
    batcher = AuditBatcher(database, interval=3600)
    batcher.add(_event(1))
    await database.close()
    with caplog.at_level(logging.ERROR):
        await batcher.close()
    assert any(r.getMessage() == "audit.batch_failed" for r in caplog.records)
