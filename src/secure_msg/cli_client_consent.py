"""`secure-msg client consent list|approve|withdraw`: a guardian's signed consent to a
caregiver joining a booklet for a stated time (docs/protocol.md §5.1)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from secure_msg.client import Client
from secure_msg.client.consent import iso_to_ms

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]
Unlock = Callable[[Client, argparse.Namespace], Awaitable[None]]
SCOPES = {"new": "new entries only", "history": "new entries and shared earlier ones"}


def last_day(until: str) -> str:
    """The last day the membership covers, on this computer's calendar: it ends at midnight."""
    return datetime.fromtimestamp((iso_to_ms(until) - 1) / 1000).date().isoformat()


def _line(c: dict[str, Any]) -> str:
    approvals = sum(1 for r in c["consents"] if r["action"] == "approve")
    return (f"{c['account_id']}  {c['name'] or '(no name)'}  {c['status']}  until "
            f"{last_day(c['until'])}  {SCOPES[c['scope']]}  approvals {approvals}")


async def _list(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    rows = await c.caregivers(a.booklet)
    return {"caregivers": rows, "text": "\n".join(map(_line, rows)) or "No caregivers."}


def _signing(action: str, unlock: Unlock) -> Command:
    async def run(c: Client, a: argparse.Namespace) -> dict[str, Any]:
        await unlock(c, a)
        row = await c.consent(a.booklet, a.caregiver, action)
        done = "Approved" if action == "approve" else "Withdrawn"
        return {**row, "text": f"{done}: {_line(row)}"}

    return run


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None],
             unlock: Unlock) -> None:
    consent = sub.add_parser("consent", help="guardians approve or withdraw caregivers")
    csub = consent.add_subparsers(dest="consent_command", required=True, metavar="COMMAND")
    p = csub.add_parser("list", help="caregivers of a booklet, their terms and approvals")
    p.add_argument("booklet")
    cmd(p, _list)
    for action, text in (("approve", "sign my approval of a caregiver's terms (guardians)"),
                         ("withdraw", "withdraw my consent: removes the caregiver (guardians)")):
        p = csub.add_parser(action, help=text)
        p.add_argument("booklet")
        p.add_argument("caregiver", help="the caregiver's account id")
        cmd(p, _signing(action, unlock))
