"""`secure-msg client export BOOKLET --out FILE.zip` and `secure-msg client verify-export FILE`.

The export reads and decrypts the whole booklet on this device and records itself in the
booklet's access log; verify-export needs no server, account or password (docs/export.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from secure_msg.client import Client, ClientError
from secure_msg.client import export as booklet_export
from secure_msg.client.export_verify import verify

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only, and whole or not at all: it is a child's therapy record in plaintext."""
    tmp = path.with_name(f".{path.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def _export(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    from secure_msg.cli_client import _unlock  # the one unlock-and-sync step of every command

    await _unlock(c, a)
    language = a.language or (await c.api.call("GET", "/api/me")).get("language") or "en"
    result = await booklet_export.build(c, a.booklet, language=language)
    out = Path(a.out)
    try:
        _write_private(out, result.archive)
    except OSError as exc:
        raise ClientError(0, "cannot-write", f"Cannot write {out}: {exc.strerror}") from exc
    warnings = [f"the booklet's history has a problem: {p}" for p in result.problems]
    if result.missing_files:
        warnings.append(f"{result.missing_files} attached files could not be fetched and are "
                        "listed without their content")
    return {"path": str(out), "entries": result.entries, "files": result.files,
            "bytes": len(result.archive), "warnings": warnings,
            "text": f"Exported {result.entries} entries and {result.files} files to {out}."}


def _verify_export(args: argparse.Namespace) -> int:
    """Offline: exit 0 only when every check passed; each failure is named on its own line."""
    try:
        data = Path(args.archive).read_bytes()
    except OSError as exc:
        print(f"secure-msg: cannot read {args.archive}: {exc.strerror}", file=sys.stderr)
        return 2
    report = verify(data)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for failure in report.failures:
            print(f"FAILED {failure.describe()}")
        for warning in report.warnings:
            print(f"warning: {warning}")
        exporter = report.exporter or {}
        if report.ok:
            print(f"OK: {report.entries} signed entries and {report.files} files of booklet "
                  f"{report.booklet_id}, exported by {exporter.get('account_id')} "
                  f"(fingerprint {exporter.get('fingerprint')}: compare it with the one the "
                  "app shows for that person).")
    return 0 if report.ok else 1


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None]) -> None:
    p = sub.add_parser("export", help="export a booklet into one verifiable zip archive")
    p.add_argument("booklet")
    p.add_argument("--out", required=True, metavar="FILE.zip")
    p.add_argument("--language", choices=["fi", "sv", "en"],
                   help="of booklet.html's headings (default: my account's language)")
    cmd(p, _export)
    p = sub.add_parser("verify-export", help="check an export archive offline")
    p.add_argument("archive")
    p.set_defaults(handler=_verify_export)
