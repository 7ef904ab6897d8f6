"""`secure-msg admin retention`: closed booklets and when each will be (or was) purged."""

from __future__ import annotations

import argparse
import json

from secure_msg.cli_admin import ADMIN_SUBCOMMANDS, with_database
from secure_msg.clock import ms_to_iso
from secure_msg.config import load_config
from secure_msg.model.booklet_lifecycle import Lifecycle, RetentionRule
from secure_msg.services import retention_service
from secure_msg.storage.db import Database


def _iso(ms: int | None) -> str | None:
    return ms_to_iso(ms) if ms is not None else None


def _row(r: Lifecycle, rule: RetentionRule) -> dict[str, str | None]:
    reminder = (None if r.reminded_at_ms is not None or r.purge_after_ms is None
                else rule.reminder_due(r.purge_after_ms))
    return {"booklet_id": r.booklet_id.hex(), "status": r.status.value,
            "closed_at": _iso(r.closed_at_ms), "reminder_due": _iso(reminder),
            "reminded_at": _iso(r.reminded_at_ms), "purge_after": _iso(r.purge_after_ms),
            "purged_at": _iso(r.purged_at_ms)}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def cmd_retention(args: argparse.Namespace) -> int:
    cfg = load_config(args.config).retention
    rule = retention_service.retention_rule(cfg)

    async def rows(database: Database) -> list[Lifecycle]:
        return await database.read(retention_service.lifecycle_rows_txn)

    found = with_database(args, rows)
    if not args.json:
        print(f"retention: closed booklets kept {rule.closed_booklet_days} days, export "
              f"reminder {rule.export_reminder_days} days before the purge")
        if not found:
            print("no closed booklets")
    for r in found:
        row = _row(r, rule)
        if args.json:
            print(json.dumps(row))
        elif r.purged_at_ms is not None:
            print(f"{row['booklet_id']}  purged     closed {row['closed_at']}  "
                  f"purged {row['purged_at']}")
        else:
            when = (f"reminded {row['reminded_at']}" if row["reminded_at"]
                    else f"reminder {row['reminder_due']}")
            print(f"{row['booklet_id']}  {r.status.value:<16} closed {row['closed_at']}  "
                  f"{when}  purge after {row['purge_after']}")
    return 0


ADMIN_SUBCOMMANDS.append(
    ("retention", "closed booklets, their export reminders and purge dates",
     _add_arguments, cmd_retention))
