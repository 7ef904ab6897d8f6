"""`secure-msg admin invite`: the service manager enrolls staff (therapists, admins) by link."""

from __future__ import annotations

import argparse
import json

from secure_msg.cli_admin import ADMIN_SUBCOMMANDS, with_database
from secure_msg.clock import SystemClock, ms_to_iso
from secure_msg.config import load_config
from secure_msg.crypto.rng import system_rng
from secure_msg.errors import SecureMsgError
from secure_msg.model.invitations import InvitationRequest, IssuedInvitation
from secure_msg.model.roles import Role
from secure_msg.server_keys import load_vault
from secure_msg.services import invitation_service
from secure_msg.storage.db import Database


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", choices=["therapist", "admin"], required=True)
    parser.add_argument("--name", required=True, help="shown to the invitee's colleagues")
    parser.add_argument("--phone", help="for SMS notices, e.g. +358401234567")
    parser.add_argument("--email")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def cmd_invite(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    vault = load_vault(config.storage.keys_dir, system_rng)
    request = InvitationRequest(Role(args.role), args.name, args.phone, args.email)

    async def work(db: Database) -> IssuedInvitation:
        return await invitation_service.issue_staff(
            db, vault, SystemClock(), system_rng, request=request,
            lifetime_days=config.accounts.invitation_lifetime_days,
        )

    try:
        issued = with_database(args, work)
    except SecureMsgError as exc:
        print(f"secure-msg: {exc.detail or exc.title}")
        return 1
    link = issued.link(config.server.public_base_url)
    expires = ms_to_iso(issued.invitation.expires_at_ms)
    if args.json:
        print(json.dumps({"id": issued.invitation.id, "link": link, "expires_at": expires}))
    else:
        print(f"One-time enrollment link for {args.name} ({args.role}), valid until {expires}:")
        print(f"  {link}")
    return 0


ADMIN_SUBCOMMANDS.append(
    ("invite", "invite a therapist or admin: prints a one-time link", _arguments, cmd_invite)
)
