"""Moving an installation from SQLite to PostgreSQL (`secure-msg admin migrate-to-postgresql`;
docs/operations.md, "Moving from SQLite to PostgreSQL").

The copy (storage/sqlite_to_postgresql.py) checks itself before it commits: row counts and
digests, the audit chain, every booklet's entry chain. After the COMMIT the target is opened
once more the way the server will open it (PgDatabase) and checked as the service manager would
check it by hand, with `admin audit verify`'s own code.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from pathlib import Path

from secure_msg.errors import MigrationRefused
from secure_msg.model.audit import ChainReport
from secure_msg.services import audit_service
from secure_msg.storage import sqlite_to_postgresql as copier
from secure_msg.storage.blob_copy import copy_blobs
from secure_msg.storage.pg_db import PgDatabase, check_dsn

CopyResult = copier.CopyResult


@dataclass(frozen=True)
class MigrationReport:
    copy: CopyResult
    audit: ChainReport  # checked again after COMMIT, through the server's backend
    booklets: int


async def migrate(database_path: Path, dsn: str, *, blobs_from: Path,
                  batch: int = copier.BATCH_ROWS) -> MigrationReport:
    """Copy the SQLite database at `database_path` (and its blobs) into the empty PostgreSQL
    database at `dsn`, then check the committed copy. MigrationRefused says why not."""
    source = copier.open_source(database_path)
    try:
        result = await asyncio.to_thread(
            copier.copy_to_postgresql, source, dsn,
            functools.partial(copy_blobs, blobs_from), batch=batch)
    finally:
        source.close()
    database = await PgDatabase.open_dsn(dsn, readers=1)
    try:
        audit = await audit_service.verify(database)
    finally:
        await database.close()
    if not audit.ok or audit.checked != result.audit_events:
        raise MigrationRefused(
            "the copy committed but its audit chain does not verify when read back "
            f"({audit.checked} events, broken at {audit.first_broken_seq}): do not switch to "
            "it; drop the target database and report this")
    return MigrationReport(result, audit, result.booklets)


def checked_dsn(dsn: str) -> str:
    """`dsn`, or ConfigError naming the variable if libpq cannot parse it (never quoting it)."""
    return check_dsn(dsn)


def redact(text: str, dsn: str) -> str:
    return copier.redact(text, dsn)
