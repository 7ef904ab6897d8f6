"""The attachments' bytes when an installation moves to PostgreSQL (`secure-msg admin
migrate-to-postgresql`): every file the source's `blobs` rows name, read from its blob directory
and inserted as parts into the target's `blob_chunks` (storage/pg_blobs.py `put_parts`) on the
copy's own connection, inside its one transaction (storage/sqlite_to_postgresql.py calls it
before COMMIT, so a failure here leaves the target empty), and checked against its row (size and
SHA-256). On PostgreSQL the server reads blobs from the database only: the source's directory
is left as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg

from secure_msg.errors import MigrationRefused
from secure_msg.storage.blob_files import BlobFiles
from secure_msg.storage.pg_blobs import put_parts

# (booklet id, blob id, size, sha256) of one `blobs` row
BlobRef = tuple[bytes, bytes, int, bytes]
_CHUNK = 1 << 20


def copy_blobs(source_dir: Path, target: psycopg.Connection[Any], blobs: Sequence[BlobRef]
               ) -> int:
    """Insert each blob's file from `source_dir` into the target's parts, checking size and
    hash; returns how many. A file missing or not matching its row refuses the migration."""
    source = BlobFiles(source_dir)
    now_ms = time.time_ns() // 1_000_000
    for booklet_id, blob_id, size, sha256 in blobs:
        path = source.path(booklet_id, blob_id)
        try:
            with path.open("rb") as f:
                got = put_parts(target, booklet_id, blob_id, _pieces(f), now_ms)
        except FileNotFoundError:
            raise MigrationRefused(f"the blob file {path} is missing; nothing was copied"
                                   ) from None
        if got != (size, sha256):
            raise MigrationRefused(f"the blob file {path} does not match its row (size or "
                                   "SHA-256); nothing was copied")
    return len(blobs)


def _pieces(f: Any) -> Iterator[bytes]:
    while chunk := f.read(_CHUNK):
        yield chunk
