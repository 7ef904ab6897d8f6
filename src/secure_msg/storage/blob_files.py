"""The blob directory: encrypted attachments as owner-only files, one per blob; the SQLite
backend's `BlobStore` (storage/blob_store.py).

    files = BlobFiles(Path("var/blobs")); await files.start(known)
    got = await files.receive(booklet_id, blob_id, chunks, limit)  # to tmp/, hashed, streamed
    await files.commit(got)                  # fsync, atomic rename, fsync the directory
    (await files.open(booklet_id, blob_id, size)).path   # what a download sends (sendfile)
    await files.delete_booklet(booklet_id)   # a purged booklet's blobs, all at once

Each booklet's blobs are in a directory of their own, `<booklet id>/<blob id>`, so that a purge
(services/retention_service.py) deletes them with the directory once its rows are gone.

Why files and not SQLite rows: docs/architecture.md, "Attachments" (bench/blobs.py measured
both). A blob appears under its final name only whole and durable (written to `tmp/`, fsynced,
renamed, the directory fsynced), so a crash leaves at worst a file in `tmp/` or a file no row
names; `prepare` and `sweep_orphans` remove both. The directory is 0700 and every file 0600,
as for the database (private_files.py). Nothing here knows what a blob holds: it is ciphertext
that the server can neither read nor check.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import AsyncIterable, AsyncIterator, Collection
from pathlib import Path

from secure_msg.errors import BlobTooLarge
from secure_msg.private_files import DIR_MODE, FILE_MODE, private_dir
from secure_msg.storage.blob_store import BlobBody, BlobKey, KnownBlobs, Received

TMP = "tmp"
KEY = "blobs.directory"
_HEX_NAME = re.compile("[0-9a-f]{32}")


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

    def booklet_dir(self, booklet_id: bytes) -> Path:
        return self.root / booklet_id.hex()

    def path(self, booklet_id: bytes, blob_id: bytes) -> Path:
        return self.booklet_dir(booklet_id) / blob_id.hex()

    async def start(self, known: KnownBlobs) -> int:
        """`prepare`, then `sweep_orphans` of the rows' blobs (this process is the only one on
        the directory, and no upload has begun)."""
        await asyncio.to_thread(self.prepare)
        names = await known()
        return await asyncio.to_thread(self.sweep_orphans, names)

    async def open(self, booklet_id: bytes, blob_id: bytes, size: int) -> BlobBody:
        return BlobBody(size, path=self.path(booklet_id, blob_id))

    async def sweep(self) -> int:
        """Nothing while serving: one process, whose start-up swept the directory."""
        return 0

    async def put(self, booklet_id: bytes, blob_id: bytes,
                  chunks: AsyncIterable[bytes]) -> Received:
        received = await self.receive(booklet_id, blob_id, chunks, 1 << 62)
        await self.commit(received)
        return received

    async def close(self) -> None:
        return None

    async def read_chunks(self, booklet_id: bytes, blob_id: bytes,
                          piece: int = 1 << 20) -> AsyncIterator[bytes]:
        """A stored blob's bytes, a piece at a time (a copy into another store:
        `PgBlobs.put(booklet_id, blob_id, files.read_chunks(booklet_id, blob_id))`)."""
        with self.path(booklet_id, blob_id).open("rb") as f:
            while data := await asyncio.to_thread(f.read, piece):
                yield data

    async def receive(self, booklet_id: bytes, blob_id: bytes, chunks: AsyncIterable[bytes],
                      limit: int) -> Received:
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
        return Received(booklet_id, blob_id, size, digest.digest(), path)

    async def commit(self, received: Received) -> None:
        """Give the (fsynced) temp file its final name, in its booklet's directory, and make
        the rename durable."""
        assert received.temp is not None
        await asyncio.to_thread(self._commit, received.temp,
                                self.path(received.booklet_id, received.blob_id))

    def _commit(self, source: Path, target: Path) -> None:
        try:
            try:
                target.parent.mkdir(mode=DIR_MODE)
                _fsync_dir(self.root)  # the new directory's entry is durable too
            except FileExistsError:
                pass
            os.rename(source, target)  # never replaces: ids are random and unique (the row)
            _fsync_dir(target.parent)
        except BaseException:
            source.unlink(missing_ok=True)
            raise

    async def discard(self, received: Received) -> None:
        if received.temp is not None:
            received.temp.unlink(missing_ok=True)
        await self.delete([(received.booklet_id, received.blob_id)])

    async def delete(self, blobs: Collection[BlobKey]) -> None:
        await asyncio.to_thread(self.delete_files, blobs)

    async def delete_booklet(self, booklet_id: bytes) -> int:
        return await asyncio.to_thread(self.delete_booklet_files, booklet_id)

    def delete_files(self, blobs: Collection[BlobKey]) -> None:
        """Delete the files of (booklet id, blob id) pairs."""
        for booklet_id, blob_id in blobs:
            self.path(booklet_id, blob_id).unlink(missing_ok=True)
        for booklet_id in {b for b, _ in blobs}:
            with contextlib.suppress(FileNotFoundError):
                _fsync_dir(self.booklet_dir(booklet_id))

    def delete_booklet_files(self, booklet_id: bytes) -> int:
        """Delete a booklet's directory and every blob in it (a purged booklet: its rows are
        gone already); returns how many files. Idempotent."""
        folder = self.booklet_dir(booklet_id)
        try:
            names = [p for p in folder.iterdir() if p.is_file()]
        except FileNotFoundError:
            return 0
        shutil.rmtree(folder, ignore_errors=True)
        _fsync_dir(self.root)
        return len(names)

    def sweep_orphans(self, known: Collection[BlobKey]) -> int:
        """Delete blob files no row names (a crash between rename and commit, or after a row's
        delete committed, or a purged booklet's); returns how many. Run at start-up, before any
        upload."""
        removed = 0
        for folder in self.root.iterdir():
            if not folder.is_dir() or not _HEX_NAME.fullmatch(folder.name):
                continue  # tmp/, and what is not ours, left alone
            booklet_id = bytes.fromhex(folder.name)
            for entry in folder.iterdir():
                if not _HEX_NAME.fullmatch(entry.name) or not entry.is_file():
                    continue
                if (booklet_id, bytes.fromhex(entry.name)) not in known:
                    entry.unlink(missing_ok=True)
                    removed += 1
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
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
