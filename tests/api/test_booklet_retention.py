"""Retention (issue 17, item 7) on the in-process server with its clock moved: a closed
booklet is purged only after its members were reminded to export and the reminder's window
passed; the purge deletes every row of the booklet, leaves no byte of its ciphertext in the
database, -wal or -shm files, is an audit event, and the audit chain still verifies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import Client
from secure_msg.client.http import b64e
from secure_msg.services import audit_service, retention_service
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage.db import database_files
from secure_msg.storage.txn import Txn
from secure_msg.web.context import CONFIG
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World

DAY = 86_400
MUM_PHONE = "+358401112222"


async def _join(world: World, therapist: Client, booklet: str, name: str,
                phone: str | None = None) -> Client:
    link = (await therapist.invite(booklet, "guardian", name=name, phone=phone))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], name, PASSWORD)
    await therapist.grant_history(booklet, client.profile.account_id, {"title"})
    return client


async def _fresh(world: World, *clients: Client) -> None:
    """Log in again: sessions end long before a retention period does."""
    for c in clients:
        await c.login(world.base, c.profile.login, PASSWORD)


async def _rows(world: World, sql: str, *params: object) -> list[tuple[Any, ...]]:
    def read(conn: Txn) -> list[tuple[Any, ...]]:
        return list(conn.execute(sql, params).fetchall())

    return await world.http.app[SERVICES].db.read(read)


async def _canaries(world: World, booklet: str) -> list[bytes]:
    """Byte patterns found only in this booklet's entries: a run of each envelope's
    ciphertext (before the signature), and a run of its base64url text, which the entry's
    stored JSON holds. Random ciphertext: nothing else in the files matches by chance."""
    envelopes = await _rows(world, "SELECT envelope FROM entries WHERE booklet_id = ?",
                            bytes.fromhex(booklet))
    assert envelopes
    out = []
    for (envelope,) in envelopes:
        out.append(envelope[-64 - 24:-64])
        text = b64e(envelope)
        out.append(text[len(text) // 2:len(text) // 2 + 32].encode())
    return out


def _found(path: Path, canaries: list[bytes]) -> list[bytes]:
    """The canaries present in the raw bytes of the database, -wal and -shm files."""
    raw = b"".join(f.read_bytes() for f in database_files(path) if f.exists())
    return [c for c in canaries if c in raw]


async def _setup(world: World) -> tuple[Client, Client, str, str]:
    """A therapist with two booklets whose entries are interleaved on the same pages; the
    guardian (with a phone) is a member of the first only."""
    therapist = await world.therapist()
    gone = await therapist.create_booklet("Aino")
    kept = await therapist.create_booklet("Eino")
    mum = await _join(world, therapist, gone, "aiti", MUM_PHONE)
    for i in range(12):
        await therapist.post(gone, "note", text=f"Aino {i} " + "x" * 300)
        await therapist.post(kept, "note", text=f"Eino {i} " + "y" * 300)
    await mum.post(gone, "note", text="Kiitos kaikesta")
    return therapist, mum, gone, kept


@pytest.mark.sqlite_only("reads the bytes of SQLite's database files")
async def test_a_closed_booklet_is_purged_after_the_reminder_and_leaves_no_ciphertext(
    world: World,
) -> None:
    therapist, mum, gone, kept = await _setup(world)
    s = world.http.app[SERVICES]
    path = world.http.app[CONFIG].storage.database_path
    canaries, survivors = await _canaries(world, gone), await _canaries(world, kept)
    status, closed = await world.raw("POST", f"/api/booklets/{gone}/close",
                                     therapist.profile.token)
    assert status == 200
    # The scan sees the booklet's ciphertext before the purge (else it could not fail).
    assert _found(path, canaries) == canaries

    result = await retention_service.tick(s.retention)
    assert (result.reminded, result.purged) == (0, [])
    world.clock.advance((365 - 30) * DAY - 60)  # a minute before the reminder is due
    result = await retention_service.tick(s.retention)
    assert (result.reminded, result.purged) == (0, [])

    world.clock.advance(60)
    result = await retention_service.tick(s.retention)
    assert (result.reminded, result.purged) == (1, [])
    notices = await _rows(world, "SELECT kind, recipient_id, slots FROM notices"
                          " WHERE booklet_id = ? AND kind = 'export_reminder'",
                          bytes.fromhex(gone))
    assert [(k, r) for k, r, _ in notices] == [
        ("export_reminder", bytes.fromhex(mum.profile.account_id))]
    await _fresh(world, mum)
    status, lifecycle = await world.raw("GET", f"/api/booklets/{gone}/lifecycle",
                                        mum.profile.token)
    assert (status, lifecycle["status"]) == (200, "purge_scheduled")
    assert lifecycle["purge_after"] == closed["purge_after"]  # the reminder went on time
    assert (await retention_service.tick(s.retention)).reminded == 0  # exactly once

    world.clock.advance(30 * DAY - 60)
    assert (await retention_service.tick(s.retention)).purged == []
    assert _found(path, canaries) == canaries  # a minute early, still all there
    world.clock.advance(60)
    result = await retention_service.tick(s.retention)
    assert result.purged == [bytes.fromhex(gone)]
    assert result.wal_truncated is True
    await _fresh(world, mum, therapist)

    assert _found(path, canaries) == []
    assert _found(path, survivors) == survivors  # the other booklet is untouched
    left = await s.db.read(lambda conn: lifecycle_store.tables_naming_txn(
        conn, bytes.fromhex(gone)))
    assert left == []
    status, problem = await world.raw("GET", f"/api/booklets/{gone}/entries",
                                      mum.profile.token)
    assert (status, problem["type"]) == (404, "not-found")
    assert [e.payload["text"][:6] for e in await therapist.read(kept)
            if e.kind == "note"] == [f"Eino {i}"[:6] for i in range(12)]
    status, lifecycle = await world.raw("GET", f"/api/booklets/{kept}/lifecycle",
                                        therapist.profile.token)
    assert lifecycle["status"] == "open"

    events = await _rows(world, "SELECT actor, action, detail FROM audit_events"
                         " WHERE target = ? ORDER BY seq", f"booklet:{gone}")
    purged = [e for e in events if e[1] == "booklet.purged"]
    assert [actor for actor, _, _ in purged] == ["system"]
    assert '"entries":14' in purged[0][2]
    assert '"members":2' in purged[0][2]
    assert [e[1] for e in events if e[1].startswith("booklet.")] == [
        "booklet.created", "booklet.closed", "booklet.export_reminded", "booklet.purged"]
    report = await audit_service.verify(s.db)  # what `admin audit verify` runs
    assert report.ok, report
    rows = await s.db.read(lifecycle_store.all_txn)
    assert [(r.booklet_id.hex(), r.status.value) for r in rows] == [(gone, "purged")]
    assert (await retention_service.tick(s.retention)).purged == []  # once


async def test_a_late_reminder_still_gives_the_full_window_before_the_purge(
    world: World,
) -> None:
    """The retention tick did not run for a long time (the service was down): the first tick
    after the purge date only reminds, and the purge waits export_reminder_days from then."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    await _join(world, therapist, booklet, "aiti", MUM_PHONE)
    s = world.http.app[SERVICES]
    status, _ = await world.raw("POST", f"/api/booklets/{booklet}/close",
                                therapist.profile.token)
    assert status == 200
    world.clock.advance(400 * DAY)
    result = await retention_service.tick(s.retention)
    assert (result.reminded, result.purged) == (1, [])
    await _fresh(world, therapist)
    status, lifecycle = await world.raw("GET", f"/api/booklets/{booklet}/lifecycle",
                                        therapist.profile.token)
    assert lifecycle["purge_after"] == "2027-03-07T00:00:00.000+00:00"  # day 400 + 30
    world.clock.advance(30 * DAY - 1)
    assert (await retention_service.tick(s.retention)).purged == []
    world.clock.advance(1)
    assert (await retention_service.tick(s.retention)).purged == [bytes.fromhex(booklet)]


async def test_an_open_booklet_is_never_purged(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    world.clock.advance(3000 * DAY)
    result = await retention_service.tick(world.http.app[SERVICES].retention)
    assert (result.reminded, result.purged) == (0, [])
    await _fresh(world, therapist)
    assert len(await therapist.read(booklet)) == 1


async def test_the_blob_hook_is_called_after_the_purge_and_again_after_a_failure(
    world: World,
) -> None:
    """Where a blob store plugs in: called with the purged booklet's id once its rows are gone;
    one that fails is called again on the next tick until it succeeds."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    s = world.http.app[SERVICES]
    calls: list[tuple[bytes, list[str]]] = []

    async def delete_blobs(booklet_id: bytes) -> int:
        left = await s.db.read(lambda conn: lifecycle_store.tables_naming_txn(conn, booklet_id))
        calls.append((booklet_id, left))
        if len(calls) == 1:
            raise OSError("the blob directory is not mounted")
        return 3

    s.retention = replace(s.retention, blobs=delete_blobs)
    status, _ = await world.raw("POST", f"/api/booklets/{booklet}/close",
                                therapist.profile.token)
    assert status == 200
    world.clock.advance(365 * DAY)
    assert (await retention_service.tick(s.retention)).purged == []  # reminded first
    assert calls == []
    world.clock.advance(30 * DAY)
    assert (await retention_service.tick(s.retention)).purged == [bytes.fromhex(booklet)]
    assert calls == [(bytes.fromhex(booklet), [])]  # after the rows were gone
    assert s.retention.blob_retry == {bytes.fromhex(booklet)}
    assert (await retention_service.tick(s.retention)).purged == []
    assert len(calls) == 2
    assert s.retention.blob_retry == set()
    await retention_service.tick(s.retention)
    assert len(calls) == 2
