"""`secure-msg client share BOOKLET SEQ --to-phone N [--email A]`, `client shares BOOKLET` and
`client revoke-share BOOKLET SHARE`: a document for someone outside the booklet (§4.8).

The link carries the key's other half in its fragment, so the server never sends it: this
device e-mails it through the sharer's own mail server (SECURE_MSG_SHARE_SMTP=host:port and
SECURE_MSG_SHARE_FROM), or prints it to be handed over. The server texts the code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

from secure_msg.client import Client, ClientError
from secure_msg.client.shares import create_share, list_shares, revoke_share
from secure_msg.model.shares import DEFAULT_DAYS, DEFAULT_OPENS, MAX_DAYS, MAX_OPENS

Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]
Unlock = Callable[[Client, argparse.Namespace], Awaitable[None]]
# Neutral, like every notice: no word of what the document is or whose.
MAIL_SUBJECT = "A document for you"
MAIL_BODY = ("You have been sent a document. Open it here:\n\n{link}\n\n"
             "You will get a one-time code by text message; the page asks for it.\n")


def _mail(to: str, link: str) -> bool:
    """E-mail the link through the sharer's own SMTP server; False when none is set up."""
    server, sender = os.environ.get("SECURE_MSG_SHARE_SMTP"), os.environ.get(
        "SECURE_MSG_SHARE_FROM")
    if not server or not sender:
        return False
    host, _, port = server.rpartition(":")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, MAIL_SUBJECT
    msg.set_content(MAIL_BODY.format(link=link))
    try:
        with smtplib.SMTP(host or server, int(port or 25), timeout=30) as smtp:
            if smtp.has_extn("starttls"):
                smtp.starttls()
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise ClientError(0, "email-failed", f"The share was made, but e-mailing the link "
                          f"failed ({exc}); withdraw it or hand the link over") from exc
    return True


def register(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None],
             unlock: Unlock) -> None:
    async def share(c: Client, a: argparse.Namespace) -> dict[str, Any]:
        await unlock(c, a)
        made = await create_share(c, a.booklet, a.seq, a.to_phone, file=a.file - 1,
                                  days=a.days, max_opens=a.opens, language=a.language)
        mailed = await asyncio.to_thread(_mail, a.email, made.link) if a.email else False
        item = made.item
        text = (f"Shared file {a.file} of entry #{a.seq} until {item['expires_at']} "
                f"({item['max_opens']} open(s)); the code goes by SMS to …{item['to']}.\n")
        text += (f"The link was e-mailed to {a.email}." if mailed else
                 f"Give this link to the recipient (not by the same channel as the code):\n"
                 f"{made.link}")
        return {**item, "link": None if mailed else made.link, "emailed": mailed, "text": text}

    async def shares(c: Client, a: argparse.Namespace) -> dict[str, Any]:
        items = await list_shares(c, a.booklet)
        lines = [f"{i['id']}  entry #{i['entry_seq']}  {i['state']}  opened {i['opens']}/"
                 f"{i['max_opens']}  to …{i['to']}  until {i['expires_at']}" for i in items]
        return {"items": items, "text": "\n".join(lines) or "No shares."}

    async def revoke(c: Client, a: argparse.Namespace) -> dict[str, Any]:
        item = await revoke_share(c, a.booklet, a.share)
        return {**item, "text": f"Share {a.share} withdrawn."}

    p = sub.add_parser("share", help="share a file of an entry with someone outside the booklet "
                                     "(a link, and a code by SMS)")
    p.add_argument("booklet")
    p.add_argument("seq", type=int, help="the document entry's number")
    p.add_argument("--to-phone", required=True, help="the recipient's mobile: gets the code")
    p.add_argument("--email", help="e-mail the link (needs SECURE_MSG_SHARE_SMTP and "
                                   "SECURE_MSG_SHARE_FROM); else it is printed")
    p.add_argument("--file", type=int, default=1, help="which file of the entry (default 1)")
    p.add_argument("--days", type=int, default=DEFAULT_DAYS,
                   help=f"open for this many days (1-{MAX_DAYS}, default {DEFAULT_DAYS})")
    p.add_argument("--opens", type=int, default=DEFAULT_OPENS,
                   help=f"how many opens (1-{MAX_OPENS}, default {DEFAULT_OPENS})")
    p.add_argument("--language", choices=["fi", "sv", "en"], default="fi",
                   help="the SMS's language")
    cmd(p, share)
    p = sub.add_parser("shares", help="a booklet's shares to outsiders and their opens")
    p.add_argument("booklet")
    cmd(p, shares)
    p = sub.add_parser("revoke-share", help="withdraw a share")
    p.add_argument("booklet")
    p.add_argument("share", help="the share's id, as `shares` shows it")
    cmd(p, revoke)
