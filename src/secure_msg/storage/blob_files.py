"""The blob directory: encrypted attachments as owner-only files, one per blob.

    files = BlobFiles(Path("var/blobs")); files.prepare()
    temp = await files.receive(chunks, limit)     # streamed to tmp/, hashed, never whole in memory
    await files.commit(temp, blob_id)             # fsync, atomic rename, fsync the directory
    files.path(blob_id)                           # what a download sends

Why files and not SQLite rows: docs/architecture.md, "Attachments" (bench/blobs.py measured
both). A blob appears under its final name only whole and durable (written to `tmp/`, fsynced,
renamed, the directory fsynced), so a crash leaves at worst a file in `tmp/` or a file no row
names; `prepare` and `sweep_orphans` remove both. The directory is 0700 and every file 0600,
as for the database (private_files.py). Nothing here knows what a blob holds: it is ciphertext
that the server can neither read nor check.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterable, Collection
from dataclasses import dataclass
from pathlib import Path

from secure_msg.errors import BlobTooLarge
from secure_msg.private_files import FILE_MODE, private_dir

TMP = "tmp"
KEY = "blobs.directory"
_HEX_NAME = re.compile("[0-9a-f]{32}")


@dataclass(frozen=True)
class TempBlob:
    path: Path
    size: int
    sha256: bytes


class BlobFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / TMP

    def prepare(self) -> list[Path]:
        """Create (or narrow) the directories; delete what a crash left in tmp/. Returns the
        paths whose mode was narrowed, for the caller to log."""
        ours = {TMP, *(p.name for p in self.root.glob("*") if _HEX_NAME.fullmatch(p.name))} \
            if self.root.is_dir() else set()
        narrowed = private_dir(self.root, KEY, ours)
        narrowed += private_dir(self.tmp, KEY, {p.name for p in self.tmp.glob("*.part")}
                                if self.tmp.is_dir() else ())
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
        return narrowed

    def path(self, blob_id: bytes) -> Path:
        return self.root / blob_id.hex()

    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> TempBlob:
        """Stream `chunks` into a new file in tmp/, at most `limit` bytes (BlobTooLarge past
        it). Any failure (too long, the client gone, a full disk) removes the file.

        Each piece (64 KiB from the socket) is hashed and written on the event loop: into the
        page cache that takes ≈ 20 µs, less than a hop to a worker thread, and no piece waits
        in memory for a bigger write (bench/blobs.py measured both). Only the fsync, which
        waits for the disk, goes to a thread."""
        path = self.tmp / (os.urandom(16).hex() + ".part")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise BlobTooLarge(f"An attachment may be at most {limit} bytes.")
                _write_hash(fd, chunk, digest)
            await asyncio.to_thread(os.fsync, fd)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
        return TempBlob(path, size, digest.digest())

    async def commit(self, temp: TempBlob, blob_id: bytes) -> None:
        """Give the (fsynced) temp file its final name and make the rename durable."""
        await asyncio.to_thread(self._commit, temp.path, self.path(blob_id))

    def _commit(self, source: Path, target: Path) -> None:
        try:
            os.rename(source, target)  # never replaces: ids are random and unique (the row)
            _fsync_dir(self.root)
        except BaseException:
            source.unlink(missing_ok=True)
            raise

    def discard(self, temp: TempBlob) -> None:
        temp.path.unlink(missing_ok=True)

    def delete(self, blob_ids: Collection[bytes]) -> None:
        for blob_id in blob_ids:
            self.path(blob_id).unlink(missing_ok=True)
        if blob_ids:
            _fsync_dir(self.root)

    def sweep_orphans(self, known: Collection[bytes]) -> int:
        """Delete blob files no row names (a crash between rename and commit, or after a row's
        delete committed); returns how many. Run at start-up, before any upload."""
        removed = 0
        for entry in self.root.iterdir():
            if entry.name == TMP or not entry.is_file():
                continue
            try:
                blob_id = bytes.fromhex(entry.name)
            except ValueError:
                continue  # not ours: left alone
            if blob_id not in known:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed


def _write_hash(fd: int, data: bytes, digest: hashlib._Hash) -> None:
    digest.update(data)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
