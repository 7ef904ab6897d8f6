"""The attachments' bytes when an installation moves to PostgreSQL (`secure-msg admin
migrate-to-postgresql`): every file the source's `blobs` rows name, copied into the
destination's blob directory and checked against its row (size and SHA-256).

MERGE(pgblobs): on main today the PostgreSQL backend keeps blobs as files, like SQLite
(storage/blob_files.py), so this copies files into the destination's blob directory. When blobs
move into PostgreSQL, `copy_blobs` is the one function to switch: read each file the same way
and insert it into the PG blob store on the same connection, inside the copy's transaction
(storage/sqlite_to_postgresql.py calls it before COMMIT, so a failure here leaves the target
empty either way).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from secure_msg.errors import MigrationRefused
from secure_msg.private_files import DIR_MODE, FILE_MODE
from secure_msg.storage.blob_files import BlobFiles, _fsync_dir

# (booklet id, blob id, size, sha256) of one `blobs` row
BlobRef = tuple[bytes, bytes, int, bytes]
_CHUNK = 1 << 20


def copy_blobs(source_dir: Path, dest_dir: Path, blobs: Sequence[BlobRef]) -> int:
    """Copy each blob's file from `source_dir` to `dest_dir` (the same layout), checking size
    and hash; returns how many were copied. When both are one directory (the usual case: the
    service manager switches the backend in the same config) the files stay and are only
    checked. A file missing or not matching its row refuses the whole migration."""
    source, dest = BlobFiles(source_dir), BlobFiles(dest_dir)
    same = source_dir.resolve() == dest_dir.resolve()
    if not same:
        dest.prepare()
    for booklet_id, blob_id, size, sha256 in blobs:
        path = source.path(booklet_id, blob_id)
        if same:
            _check(path, size, sha256, None)
        else:
            _copy(path, dest, booklet_id, blob_id, size, sha256)
    return 0 if same else len(blobs)


def _check(path: Path, size: int, sha256: bytes, out_fd: int | None) -> None:
    """Read `path` (writing it to `out_fd` if given); refuse unless it is the row's bytes."""
    digest, length = hashlib.sha256(), 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                length += len(chunk)
                if out_fd is not None:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out_fd, view):]
    except FileNotFoundError:
        raise MigrationRefused(f"the blob file {path} is missing; nothing was copied") from None
    if length != size or digest.digest() != sha256:
        raise MigrationRefused(f"the blob file {path} does not match its row (size or "
                               "SHA-256); nothing was copied")


def _copy(path: Path, dest: BlobFiles, booklet_id: bytes, blob_id: bytes, size: int,
          sha256: bytes) -> None:
    """As an upload lands (storage/blob_files.py): into tmp/, fsync, rename, fsync the
    directory; a file already there from an earlier, failed run is replaced."""
    temp = dest.tmp / (os.urandom(16).hex() + ".part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        _check(path, size, sha256, fd)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    target = dest.path(booklet_id, blob_id)
    target.parent.mkdir(mode=DIR_MODE, exist_ok=True)
    os.replace(temp, target)
    _fsync_dir(target.parent)
