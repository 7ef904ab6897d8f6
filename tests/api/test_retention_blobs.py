"""Retention (issue 17) with real attachments: once a closed booklet is purged, no byte of
the ciphertext its files were uploaded as is left anywhere the server writes, neither under
the blob directory nor in the database, -wal or -shm files; another booklet's blob stays.
The in-process server with its clock moved, the Python client encrypting and uploading."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import Client, blobs
from secure_msg.client.attachments import post_files
from secure_msg.services import retention_service
from secure_msg.storage.db import database_files
from secure_msg.web.context import CONFIG
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World
from .test_booklet_retention import _canaries, _found

DAY = 86_400
SLICE = 64


class Sent:
    """What the client put on the wire for each blob, per booklet: recorded by wrapping
    blobs.upload, so that the test recognises the ciphertext independently of the server."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.blobs: dict[str, bytearray] = {}
        upload = blobs.upload

        async def recording(api: Any, booklet: str, chunks: AsyncIterable[bytes] | bytes,
                            length: int) -> dict[str, Any]:
            sent = self.blobs.setdefault(booklet, bytearray())

            async def tee() -> AsyncIterator[bytes]:
                if isinstance(chunks, bytes):
                    sent.extend(chunks)
                    yield chunks
                    return
                async for chunk in chunks:
                    sent.extend(chunk)
                    yield chunk

            result: dict[str, Any] = await upload(api, booklet, tee(), length)
            return result

        monkeypatch.setattr(blobs, "upload", recording)

    def slices(self, booklet: str) -> list[bytes]:
        """Distinctive 64-byte runs of the blob: its start, middle and end (random-looking
        ciphertext, so nothing else matches by chance)."""
        data = bytes(self.blobs[booklet])
        assert len(data) > 4 * SLICE
        return [data[:SLICE], data[len(data) // 2:len(data) // 2 + SLICE], data[-SLICE:]]


def _in_blob_dir(root: Path, slices: list[bytes]) -> list[bytes]:
    """The slices present in any file under the blob directory (tmp/ included)."""
    raw = b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())
    return [s for s in slices if s in raw]


async def _document(world: World, therapist: Client, booklet: str, name: str,
                    tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(200_000) + b"\n%%EOF\n")
    await post_files(therapist, booklet, [path], text="Lausunto")


@pytest.mark.sqlite_only("reads the bytes of SQLite's database files")
async def test_a_purged_booklet_leaves_no_attachment_ciphertext_anywhere(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = Sent(monkeypatch)
    therapist = await world.therapist()
    gone = await therapist.create_booklet("Aino")
    kept = await therapist.create_booklet("Eino")
    await _document(world, therapist, gone, "lausunto.pdf", tmp_path)
    await _document(world, therapist, kept, "suunnitelma.pdf", tmp_path)
    s = world.http.app[SERVICES]
    root = s.blobs.files.root
    db_path = world.http.app[CONFIG].storage.database_path
    blob_slices, kept_slices = sent.slices(gone), sent.slices(kept)
    entries, kept_entries = await _canaries(world, gone), await _canaries(world, kept)

    # Before: the scan finds the uploaded ciphertext where the server keeps it (so it can
    # fail), byte for byte as sent, and (blobs being files) not in the database.
    (stored,) = [p for p in (root / gone).iterdir() if p.is_file()]
    assert stored.read_bytes() == bytes(sent.blobs[gone])
    assert _in_blob_dir(root, blob_slices) == blob_slices
    assert _in_blob_dir(root, kept_slices) == kept_slices
    assert _found(db_path, entries) == entries
    assert _found(db_path, blob_slices) == []

    status, _ = await world.raw("POST", f"/api/booklets/{gone}/close", therapist.profile.token)
    assert status == 200
    world.clock.advance((365 - 30) * DAY)
    result = await retention_service.tick(s.retention)
    assert result.purged == []  # the export reminder first
    world.clock.advance(30 * DAY - 60)
    assert (await retention_service.tick(s.retention)).purged == []
    assert _in_blob_dir(root, blob_slices) == blob_slices  # a minute early: still there
    world.clock.advance(60)
    result = await retention_service.tick(s.retention)
    assert result.purged == [bytes.fromhex(gone)]
    assert s.retention.blob_retry == set()

    assert _in_blob_dir(root, blob_slices) == []
    assert _found(db_path, [*blob_slices, *entries]) == []
    assert not (root / gone).exists()
    # The other booklet's file and entries are untouched, and it still downloads whole.
    assert _in_blob_dir(root, kept_slices) == kept_slices
    assert _found(db_path, kept_entries) == kept_entries
    await therapist.login(world.base, therapist.profile.login, PASSWORD)
    (blob_file,) = [p for p in (root / kept).iterdir() if p.is_file()]
    got = bytearray()
    await blobs.download(therapist.api, kept, blob_file.name, got.extend, 1 << 20)
    assert bytes(got) == bytes(sent.blobs[kept])
    assert [p.name for p in database_files(db_path) if p.exists()]  # the scan read something
