"""`secure-msg client access-log BOOKLET [--csv FILE]`: who joined, left, read and exported.

Names come from the booklet's members list (former members too); with --csv the log is also
written as a CSV file and the export is recorded in the log itself (booklet.exported).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from secure_msg.client import Client, ClientError, access_log
from secure_msg.model.access_log import ExportKind

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]


def _write_private(path: Path, text: str) -> None:
    """Owner-only: the log says who read a child's booklet when."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)


async def _access_log(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    items = await access_log.fetch(c, a.booklet)
    members = await c.members(a.booklet, include_removed=True, verifying=True)
    table = access_log.rows(items, members)
    warnings = [f"{m.account_id} was first listed as {m.pinned_name} ({m.pinned_role}), "
                f"now as {m.name} ({m.role})" for m in members if m.relabelled]
    bad = [r.seq for r in table if not r.hash_ok]
    if bad:
        warnings.append(f"events {bad} do not match their own hash: the server changed them")
    if a.csv:
        try:
            _write_private(Path(a.csv), access_log.to_csv(table))
        except OSError as exc:
            raise ClientError(0, "cannot-write", f"Cannot write {a.csv}: {exc.strerror}") from exc
        await access_log.record_export(c, a.booklet, ExportKind.ACCESS_LOG.value)
    text = "\n".join(f"{r.at}  {r.who}: {r.what}" for r in table) or "No events."
    return {"items": [{**r.item, "who": r.who, "what": r.what, "hash_ok": r.hash_ok}
                      for r in table],
            "text": text + (f"\nWritten to {a.csv}." if a.csv else ""), "warnings": warnings}


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None]) -> None:
    p = sub.add_parser("access-log", help="who joined, left, read and exported a booklet")
    p.add_argument("booklet")
    p.add_argument("--csv", metavar="FILE", help="also write the log as CSV to FILE")
    cmd(p, _access_log)
