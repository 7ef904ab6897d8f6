"""`secure-msg client close|lifecycle|delete-account`: closing a booklet at the end of
therapy, where a booklet stands, and deleting one's own account. Both changes are final, so
each asks for `--yes`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from secure_msg.client import Client
from secure_msg.client.http import ClientError

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]
Password = Callable[[argparse.Namespace], str]


def _confirmed(a: argparse.Namespace, what: str) -> None:
    if not a.yes:
        raise ClientError(0, "confirm-needed", f"{what} cannot be undone: add --yes")


def _line(r: dict[str, Any]) -> str:
    if r["status"] == "open":
        return f"Booklet {r['booklet_id']} is open."
    text = f"Booklet {r['booklet_id']} is {r['status']} (closed {r['closed_at']})"
    if r["status"] != "purged":
        text += f"; it will be deleted from the service after {r['purge_after']}: export it first"
    return text + "."


async def _close(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    _confirmed(a, "Closing a booklet")
    r: dict[str, Any] = await c.api.call("POST", f"/api/booklets/{a.booklet}/close")
    return {**r, "text": _line(r)}


async def _lifecycle(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = await c.api.call("GET", f"/api/booklets/{a.booklet}/lifecycle")
    return {**r, "text": _line(r)}


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None],
             password: Password) -> None:
    async def delete_account(c: Client, a: argparse.Namespace) -> dict[str, Any]:
        _confirmed(a, "Deleting the account")
        account_id = c.profile.account_id
        await c.delete_account(password(a))
        return {"id": account_id, "text": f"Account {account_id} deleted; its personal data "
                                          "is erased from the service."}

    p = sub.add_parser("close", help="close a booklet at the end of therapy (its therapist): "
                                     "read-only, appointments and reminders stop")
    p.add_argument("booklet")
    p.add_argument("--yes", action="store_true", help="confirm: it cannot be reopened")
    cmd(p, _close)
    p = sub.add_parser("lifecycle", help="open or closed, and when a closed booklet is deleted")
    p.add_argument("booklet")
    cmd(p, _lifecycle)
    p = sub.add_parser("delete-account", help="delete my account (after leaving every booklet)")
    p.add_argument("--yes", action="store_true", help="confirm: it cannot be undone")
    cmd(p, delete_account)
