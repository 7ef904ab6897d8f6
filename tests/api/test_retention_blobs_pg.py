"""Retention on PostgreSQL with real attachments (issue 18): the blobs are parts in the
database (storage/pg_blobs.py), and once a closed booklet is purged none of its parts, and no
run of the ciphertext it was uploaded as, is left in any row; another booklet's document stays
and still downloads whole. tests/api/test_retention_blobs.py is the SQLite twin (files, and
the database's own files read raw)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_msg.client import blobs
from secure_msg.services import retention_service
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage.pg_blobs import PgBlobs
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World
from .test_retention_blobs import DAY, Sent, _document

pytestmark = pytest.mark.postgresql


@pytest.fixture
def backend() -> str:
    return "postgresql"


def _in(dump: bytes, slices: list[bytes]) -> list[bytes]:
    return [s for s in slices if s in dump]


async def test_a_purge_deletes_the_booklets_parts_and_no_other(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = Sent(monkeypatch)
    therapist = await world.therapist()
    gone = await therapist.create_booklet("Aino")
    kept = await therapist.create_booklet("Eino")
    await _document(world, therapist, gone, "lausunto.pdf", tmp_path)
    await _document(world, therapist, kept, "suunnitelma.pdf", tmp_path)
    s = world.http.app[SERVICES]
    store = s.blobs.files
    assert isinstance(store, PgBlobs)
    gone_slices, kept_slices = sent.slices(gone), sent.slices(kept)
    assert [b.hex() for b, _ in await store.held()] == sorted([gone, kept])
    (kept_blob,) = [b for booklet, b in await store.held() if booklet.hex() == kept]

    # Before: the ciphertext is in the database's rows, as sent (so the scan can fail).
    dump = await world.stored_bytes()
    assert _in(dump, gone_slices) == gone_slices
    assert _in(dump, kept_slices) == kept_slices

    status, _ = await world.raw("POST", f"/api/booklets/{gone}/close", therapist.profile.token)
    assert status == 200
    world.clock.advance((365 - 30) * DAY)
    assert (await retention_service.tick(s.retention)).purged == []  # the reminder first
    world.clock.advance(30 * DAY)
    assert (await retention_service.tick(s.retention)).purged == [bytes.fromhex(gone)]
    assert s.retention.blob_retry == set()

    assert await store.held() == [(bytes.fromhex(kept), kept_blob)]
    assert await s.db.read(lambda conn: lifecycle_store.tables_naming_txn(
        conn, bytes.fromhex(gone))) == []
    dump = await world.stored_bytes()
    assert _in(dump, gone_slices) == []
    assert _in(dump, kept_slices) == kept_slices
    await therapist.login(world.base, therapist.profile.login, PASSWORD)
    got = bytearray()
    await blobs.download(therapist.api, kept, kept_blob.hex(), got.extend, 1 << 30)
    assert bytes(got) == bytes(sent.blobs[kept])
