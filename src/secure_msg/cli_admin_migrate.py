"""`secure-msg admin migrate-to-postgresql`: copy a SQLite installation into an empty PostgreSQL
database (docs/operations.md, "Moving from SQLite to PostgreSQL").

    SECURE_MSG_DATABASE_URL=postgresql://… secure-msg admin migrate-to-postgresql \\
        --config config/secure-msg.toml [--target-config config/secure-msg-pg.toml]

The DSN comes from the environment only (it may hold a password, and a command line is seen by
every user of the machine in `ps`); it is never printed. The server must be stopped: refused
while any process holds an outbox owner lock beside the database (channels/claim_owner.py),
and the copy itself holds SQLite's write lock. Exit 0 once copied and verified; 1 when refused
or a check failed (before COMMIT: the target is then as it was; the audit check after COMMIT
says to drop it); 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import sys
from pathlib import Path

from secure_msg.channels.claim_owner import owners_dir
from secure_msg.cli_admin import ADMIN_SUBCOMMANDS
from secure_msg.config import Config, load_config
from secure_msg.errors import ConfigError, MigrationRefused
from secure_msg.server_keys import KEY_FILES
from secure_msg.storage.db import DATABASE_URL_ENV


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target-config", type=Path, default=None,
        help="the config the server will run on PostgreSQL with (backend = postgresql): its "
             "keys must be the source's; the attachments go into the database (default: "
             "--config itself, switched to postgresql after the copy)")
    parser.add_argument("--batch", type=int, default=1000, help=argparse.SUPPRESS)


def running_owners(directory: Path) -> list[str]:
    """Ids of the server processes that hold their outbox owner lock in `directory` (each holds
    its flock for as long as it lives, whatever ends it)."""
    held = []
    for path in sorted(directory.glob("*.lock")) if directory.is_dir() else ():
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            held.append(path.stem)
        finally:
            os.close(fd)  # releases our lock too, if we took it
    return held


def _target(args: argparse.Namespace, source: Config) -> Config:
    if args.target_config is None:
        return source
    target = load_config(args.target_config)
    if target.storage.backend != "postgresql":
        raise ConfigError("storage.backend", f"{args.target_config} is the target's config: "
                          "it must say backend = \"postgresql\"")
    for name in KEY_FILES:  # sealed columns and blind indexes open only with the same keys
        ours, theirs = source.storage.keys_dir / name, target.storage.keys_dir / name
        with contextlib.suppress(OSError):
            if ours.read_bytes() == theirs.read_bytes():
                continue
        raise ConfigError("storage.keys_dir", f"{theirs} must be a copy of {ours}: the copied "
                          "data opens only with the source's keys")
    return target


def cmd_migrate(args: argparse.Namespace) -> int:
    source = load_config(args.config)
    if source.storage.backend != "sqlite":
        raise ConfigError("storage.backend", f"{args.config} must be the SQLite installation's "
                          "config (backend = \"sqlite\"); the target's DSN comes from "
                          f"{DATABASE_URL_ENV}")
    dsn = os.environ.get(DATABASE_URL_ENV, "").strip()
    if not dsn:
        raise ConfigError("storage.backend", f"the target PostgreSQL database's DSN goes in "
                          f"the environment, {DATABASE_URL_ENV} (never on the command line: "
                          "it may hold a password)")
    _target(args, source)  # refuses a target config that is not PostgreSQL's or other keys
    # psycopg is the `postgresql` extra: imported only by the command that needs it
    from secure_msg.services import postgresql_migration

    postgresql_migration.checked_dsn(dsn)  # before any message could quote it
    database = source.storage.database_path
    blobs_from = source.blobs.path(database)
    try:
        running = running_owners(owners_dir(database))
        if running:
            raise MigrationRefused(f"a server is running on {database} ({len(running)} "
                                   "process(es) hold an outbox owner lock): stop it first")
        report = asyncio.run(postgresql_migration.migrate(
            database, dsn, blobs_from=blobs_from, batch=args.batch))
    except MigrationRefused as exc:
        print("secure-msg admin migrate-to-postgresql: refused: "
              f"{postgresql_migration.redact(str(exc), dsn)}", file=sys.stderr)
        return 1
    copy = report.copy
    rate = copy.rows / copy.seconds if copy.seconds > 0 else 0.0
    print(f"copied {database} into PostgreSQL (schema version {copy.version}): "
          f"{len(copy.tables)} tables, {copy.rows} rows in {copy.seconds:.1f} s "
          f"({rate:.0f} rows/s; of it {copy.check_seconds:.1f} s reading back and checking)")
    for table in copy.tables:
        print(f"  {table.name:<20} {table.rows:>9}")
    print(f"blobs: {copy.blobs} copied from {blobs_from} into the database and checked")
    print(f"verified: every table's rows read back equal; audit chain intact "
          f"({report.audit.checked} events); entry chains intact ({report.booklets} booklets)")
    if args.target_config is None:
        print(f"next: set [storage] backend = \"postgresql\" in {args.config}, start the "
              f"server with {DATABASE_URL_ENV} set, and run `secure-msg admin audit verify`")
    return 0


ADMIN_SUBCOMMANDS.append(
    ("migrate-to-postgresql",
     f"copy this SQLite installation into the empty PostgreSQL database named by "
     f"{DATABASE_URL_ENV} (server stopped), then verify the copy",
     _add_arguments, cmd_migrate))
