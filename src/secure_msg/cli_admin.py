"""`secure-msg admin …`: operator commands run on the server machine against the database.

`admin audit verify` exits 1 on a broken chain (naming the first bad event); `admin audit show`
lists the newest events. Other admin commands (invite, …) register their parsers in
`register_admin_commands` below or in their own module via `ADMIN_SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from secure_msg.clock import ms_to_iso
from secure_msg.config import load_config
from secure_msg.model.audit import AuditEvent, ChainReport
from secure_msg.services import audit_service
from secure_msg.services.admin_service import schema_version
from secure_msg.storage.db import Database, open_database

T = TypeVar("T")
# (name, help, add_arguments, handler): other modules append admin subcommands here.
AdminCommand = tuple[str, str, Callable[[argparse.ArgumentParser], None],
                     Callable[[argparse.Namespace], int]]
ADMIN_SUBCOMMANDS: list[AdminCommand] = []


def register(subparsers: Any) -> None:
    from secure_msg.cli_server import add_config_argument

    admin = subparsers.add_parser("admin", help="operator commands (audit log, …)")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    audit = admin_sub.add_parser("audit", help="the hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_sub.add_parser("verify", help="check the hash chain; exit 1 if broken")
    show = audit_sub.add_parser("show", help="list the newest events")
    show.add_argument("--limit", type=int, default=50, help="how many (default: %(default)s)")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    migrate = admin_sub.add_parser(
        "migrate", help="bring the database schema up to date and say its version (on "
                        "PostgreSQL: run it as the schema's owner role)")
    for parser, handler in ((verify, cmd_audit_verify), (show, cmd_audit_show),
                            (migrate, cmd_migrate)):
        add_config_argument(parser)
        parser.set_defaults(handler=handler)
    for name, help_text, add_arguments, command in ADMIN_SUBCOMMANDS:
        extra = admin_sub.add_parser(name, help=help_text)
        add_config_argument(extra)
        add_arguments(extra)
        extra.set_defaults(handler=command)


def with_database(args: argparse.Namespace, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the configured database (migrating it), run `work`, close it."""
    config = load_config(args.config)

    async def run() -> T:
        database = await open_database(config.storage, readers=1)
        try:
            return await work(database)
        finally:
            await database.close()

    return asyncio.run(run())


def cmd_audit_verify(args: argparse.Namespace) -> int:
    report: ChainReport = with_database(args, audit_service.verify)
    if report.ok:
        print(f"audit chain intact: {report.checked} events")
        return 0
    print(f"audit chain BROKEN at event {report.first_broken_seq}: {report.reason} "
          f"({report.checked} events before it are intact)", file=sys.stderr)
    return 1


def cmd_migrate(args: argparse.Namespace) -> int:
    """Opening the database applies what is pending (as every command does); this one exists
    so that a separate owner role can do it before the app's role, which may not change the
    schema, starts (docs/operations.md, "Roles")."""
    print(f"database schema at version {with_database(args, schema_version)}")
    return 0


def _event_dict(event: AuditEvent) -> dict[str, Any]:
    return {"seq": event.seq, "time": ms_to_iso(event.at_ms), "actor": event.actor,
            "action": event.action, "target": event.target, "detail": dict(event.detail),
            "hash": event.hash.hex()}


def cmd_audit_show(args: argparse.Namespace) -> int:
    async def latest(database: Database) -> list[AuditEvent]:
        return await audit_service.latest(database, args.limit)

    for event in with_database(args, latest):
        row = _event_dict(event)
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            detail = json.dumps(row["detail"], ensure_ascii=False) if event.detail else ""
            print(f"{row['seq']:>6}  {row['time']}  {event.actor:<14} {event.action:<28} "
                  f"{event.target} {detail}".rstrip())
    return 0
