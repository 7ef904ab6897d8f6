"""`secure-msg client request-document BOOKLET --kind statement [--due DATE]`,
`client document-requests [BOOKLET] [--all]` and `client withdraw-request BOOKLET REQUEST`:
a guardian asks the therapist for a document; the therapist lists the open requests of one
booklet or, without BOOKLET, of her whole caseload. She fulfils one by posting the document:
`client post BOOKLET --kind document --file F --fulfils REQUEST`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from secure_msg.client import Client
from secure_msg.client.http import ClientError
from secure_msg.model.document_requests import RequestKind

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]


def _line(r: dict[str, Any]) -> str:
    due = f", needed by {r['due']}" if r["due"] else ""
    done = f", fulfilled by entry #{r['done_by_seq']}" if r["done_by_seq"] else ""
    return (f"{r['id']}  {r['kind']}  {r['status']}  booklet {r['booklet_id']}  asked "
            f"{r['created_at'][:10]}{due}{done}")


def _due(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ClientError(0, "bad-arguments", "--due is a calendar day, YYYY-MM-DD") from None


async def _request(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": a.kind}
    if (due := _due(a.due)) is not None:
        body["due"] = due
    r: dict[str, Any] = await c.api.call("POST", f"/api/booklets/{a.booklet}/document-requests",
                                         body)
    return {**r, "text": f"Asked for a {a.kind}: request {r['id']}. Say more in a note if "
                         "needed; the therapist sees the request in the booklet."}


async def _list(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    if a.booklet:
        path = f"/api/booklets/{a.booklet}/document-requests" + ("?all=1" if a.all else "")
    elif a.all:
        raise ClientError(0, "bad-arguments", "--all needs a BOOKLET")
    else:
        path = "/api/me/document-requests"
    r: dict[str, Any] = await c.api.call("GET", path)
    lines = [_line(x) for x in r["requests"]]
    return {**r, "text": "\n".join(lines) if lines else "No open document requests."}


async def _withdraw(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = await c.api.call(
        "POST", f"/api/booklets/{a.booklet}/document-requests/{a.request}/withdraw")
    return {**r, "text": f"Request {r['id']} withdrawn."}


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None]) -> None:
    p = sub.add_parser("request-document", help="ask the therapist for a document (guardians)")
    p.add_argument("booklet")
    p.add_argument("--kind", choices=[k.value for k in RequestKind], default="statement",
                   help="statement (e.g. for the doctor's evaluation visit), plan or other")
    p.add_argument("--due", help="the day it is needed by, YYYY-MM-DD")
    cmd(p, _request)
    p = sub.add_parser("document-requests",
                       help="open document requests of a booklet, or of all my booklets")
    p.add_argument("booklet", nargs="?")
    p.add_argument("--all", action="store_true", help="done and withdrawn ones too")
    cmd(p, _list)
    p = sub.add_parser("withdraw-request", help="withdraw an open document request")
    p.add_argument("booklet")
    p.add_argument("request")
    cmd(p, _withdraw)
