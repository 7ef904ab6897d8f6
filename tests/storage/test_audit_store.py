"""Audit log on disk: appends chain, the table refuses edits, verify names the first bad event."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from secure_msg.model.audit import GENESIS_HASH
from secure_msg.storage import audit as audit_store
from secure_msg.storage.db import Database

from .conftest import INTEGRITY_ERRORS


async def _append(db: Database, n: int) -> None:
    for i in range(n):
        await db.write(functools.partial(
            audit_store.append_audit_txn, at_ms=1000 + i, actor=f"account:{i:032x}",
            action="session.created", target=f"session:{i}", detail={"n": i},
        ))


async def test_appends_form_a_chain_that_verifies(db: Database) -> None:
    """Each event links to the previous one's hash; verify reports all intact."""
    await _append(db, 5)
    events = await db.read(audit_store.list_events_txn)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    report = await audit_store.verify(db)
    assert report.ok
    assert report.checked == 5


async def test_the_table_refuses_update_and_delete(db: Database) -> None:
    """Triggers make audit_events append-only even for code holding the writer."""
    await _append(db, 1)
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        await db.write(lambda c: c.execute("UPDATE audit_events SET actor = 'system'"))
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        await db.write(lambda c: c.execute("DELETE FROM audit_events"))
    assert (await audit_store.verify(db)).ok


def _drop_trigger(name: str, backend: str) -> str:
    return f"DROP TRIGGER {name}" + (" ON audit_events" if backend == "postgresql" else "")


async def test_tampering_behind_the_triggers_is_found(
        db: Database, backend: str, behind_the_app: Callable[..., None]) -> None:
    """Someone with the file drops the trigger and edits event 3: verify names event 3."""
    await _append(db, 5)
    behind_the_app(_drop_trigger("audit_events_no_update", backend),
                   "UPDATE audit_events SET target = 'session:99' WHERE seq = 3")
    report = await audit_store.verify(db)
    assert not report.ok
    assert report.first_broken_seq == 3
    assert report.checked == 2


async def test_a_deleted_event_is_found(
        db: Database, backend: str, behind_the_app: Callable[..., None]) -> None:
    """Removing an event from the middle breaks the chain at that position."""
    await _append(db, 4)
    behind_the_app(_drop_trigger("audit_events_no_delete", backend),
                   "DELETE FROM audit_events WHERE seq = 2")
    report = await audit_store.verify(db)
    assert report.first_broken_seq == 2


async def test_bad_fields_are_refused_and_nothing_is_written(db: Database) -> None:
    """Free-text actors, non-verb actions and nested details never enter the log."""
    for kwargs in ({"actor": "Maija Meikäläinen", "action": "login.failed"},
                   {"actor": "system", "action": "Logged in!"},
                   {"actor": "system", "action": "login.failed", "detail": {"x": {"y": 1}}}):
        with pytest.raises(ValueError, match="audit"):
            await db.write(functools.partial(audit_store.append_audit_txn, at_ms=1, **kwargs))
    assert await db.read(audit_store.list_events_txn) == []


async def test_a_batch_appends_the_same_chain_as_one_by_one(tmp_path: Path) -> None:
    """append_audit_events_txn writes exactly the events, links and hashes that the same events
    appended one at a time would; one bad event in a batch writes none of it."""
    events = [(1000 + i, f"account:{i:032x}", "entries.fetched", f"booklet:{i}", {"n": i})
              for i in range(7)]
    single = await Database.open(tmp_path / "single.db")
    batch = await Database.open(tmp_path / "batch.db")
    try:
        await single.write(functools.partial(
            audit_store.append_audit_txn, at_ms=1, actor="system", action="service.started"))
        await batch.write(functools.partial(
            audit_store.append_audit_txn, at_ms=1, actor="system", action="service.started"))
        for at_ms, actor, action, target, detail in events:
            await single.write(functools.partial(
                audit_store.append_audit_txn, at_ms=at_ms, actor=actor, action=action,
                target=target, detail=detail))
        returned = await batch.write(functools.partial(
            audit_store.append_audit_events_txn, events=events))
        one_by_one = await single.read(audit_store.list_events_txn)
        batched = await batch.read(audit_store.list_events_txn)
        assert batched == one_by_one
        assert returned == batched[1:]
        bad = [*events[:3], (2000, "Maija", "entries.fetched", "", {})]
        with pytest.raises(ValueError, match="audit"):
            await batch.write(functools.partial(audit_store.append_audit_events_txn, events=bad))
        assert await batch.read(audit_store.list_events_txn) == batched
        assert (await audit_store.verify(batch)).ok
    finally:
        await single.close()
        await batch.close()
