"""`secure-msg client post --kind document --file F …` and `secure-msg client download`: files
encrypted on this device (client/attachments.py), never readable by the server."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from secure_msg.client import Client, ClientError
from secure_msg.client.attachments import post_files, save_files

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]
Unlock = Callable[[Client, argparse.Namespace], Awaitable[None]]
Confirming = Callable[[str, Awaitable[Any]], Awaitable[Any]]


def shown(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload as `read` prints it: a file's key and id stay out of terminals and logs
    (`download` uses them); its name, type, size and hash are shown."""
    if "attachments" not in payload:
        return payload
    files = [{k: v for k, v in f.items() if k not in ("key", "file_id")}
             for f in payload["attachments"]]
    return {**payload, "attachments": files}


async def post_document(c: Client, a: argparse.Namespace, unlock: Unlock,
                        confirming: Confirming) -> dict[str, Any]:
    if not a.file:
        raise ClientError(0, "bad-arguments", "a document needs at least one --file")
    paths = [Path(f) for f in a.file]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ClientError(0, "bad-arguments", f"not a file: {', '.join(missing)}")
    await unlock(c, a)
    result = await confirming("Your entry would be sealed for the first time to", post_files(
        c, a.booklet, paths, text=a.text, allow_unverified=a.confirm_unverified,
        fulfils_request=getattr(a, "fulfils", None)))
    return {"id": result["entry_id"], "seq": result["seq"],
            "new_recipients": result["new_recipients"],
            "text": f"Posted #{result['seq']} with {len(paths)} file(s)."}


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None],
             unlock: Unlock) -> None:
    async def download(c: Client, a: argparse.Namespace) -> dict[str, Any]:
        await unlock(c, a)
        saved = await save_files(c, a.booklet, a.seq, Path(a.out))
        return {"files": [{"name": s.name, "path": str(s.path), "size": s.size,
                           "media_type": s.media_type} for s in saved],
                "text": "\n".join(f"Saved {s.path} ({s.size} bytes, {s.media_type})"
                                  for s in saved)}

    p = sub.add_parser("download", help="download, check and decrypt the files of an entry")
    p.add_argument("booklet")
    p.add_argument("seq", type=int, help="the entry's number, as `read` shows it")
    p.add_argument("--out", default=".", help="folder to save the files in (default: here)")
    cmd(p, download)
