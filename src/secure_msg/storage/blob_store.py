"""Where attachments' bytes live: the `BlobStore` interface and what it hands back.

Two implementations, chosen by [storage] backend (services/blob_service.make_deps):

- SQLite: `storage.blob_files.BlobFiles`, a file per blob in the blob directory (one process);
- PostgreSQL: `storage.pg_blobs.PgBlobs`, parts of each blob as rows in the database, so that
  every app process on it reads every blob (docs/architecture.md, "Attachments").

The flow is the same on both: `receive` streams an upload under the ids it will have (never
whole in memory, at most `limit` bytes), `commit` makes it durable under that name before the
`blobs` row that names it is recorded, `discard` takes back one whose row will not be. A
store may hold bytes no row names (a crash between the two); `start` and `sweep` remove them,
never bytes an upload still in flight (in any process) may be about to name.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

BlobKey = tuple[bytes, bytes]  # (booklet id, blob id)
# The (booklet id, blob id) of every `blobs` row, read when a store needs them.
KnownBlobs = Callable[[], Awaitable[Collection[BlobKey]]]


@dataclass(frozen=True)
class Received:
    """An upload streamed into the store, not yet committed (`temp`: the file store's)."""

    booklet_id: bytes
    blob_id: bytes
    size: int
    sha256: bytes
    temp: Path | None = None


@dataclass(frozen=True)
class BlobBody:
    """What a download sends: a file the server may `sendfile` (`path`), or else the bytes
    [start, stop) streamed in parts by `stream`, with a strong `etag` (a blob never changes
    under its id)."""

    size: int
    path: Path | None = None
    stream: Callable[[int, int], AsyncIterator[bytes]] | None = None
    etag: str | None = None


class BlobStore(Protocol):
    async def start(self, known: KnownBlobs) -> int:
        """Before serving: what a crash left behind goes; returns how many blobs."""

    async def receive(self, booklet_id: bytes, blob_id: bytes,
                      chunks: AsyncIterable[bytes], limit: int) -> Received:
        """Stream `chunks` in (BlobTooLarge past `limit`); any failure leaves nothing."""

    async def commit(self, received: Received) -> None:
        """Durable under its ids; a failure leaves nothing."""

    async def discard(self, received: Received) -> None:
        """Received or committed, but no row will name it."""

    async def open(self, booklet_id: bytes, blob_id: bytes, size: int) -> BlobBody:
        """The stored bytes of a blob whose row says it has `size` bytes."""

    async def delete(self, blobs: Collection[BlobKey]) -> None:
        """The bytes of blobs whose rows were deleted."""

    async def delete_booklet(self, booklet_id: bytes) -> int:
        """Every blob of a purged booklet (its rows are gone); how many. Idempotent."""

    async def sweep(self) -> int:
        """With the scheduler tick: bytes no row names, old enough that no upload in flight
        can name them still; how many blobs."""

    async def put(self, booklet_id: bytes, blob_id: bytes,
                  chunks: AsyncIterable[bytes]) -> Received:
        """Store a whole blob at once (a copy from another installation): `receive` without
        a limit, then `commit`."""

    async def close(self) -> None:
        """Release connections; safe to call again."""
