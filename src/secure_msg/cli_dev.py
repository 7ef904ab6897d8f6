"""`secure-msg dev …`: tools for development and tests (never needed in production)."""

from __future__ import annotations

import argparse
from typing import Any

from secure_msg.testing import twilio_server


def register(subparsers: Any) -> None:
    dev = subparsers.add_parser("dev", help="development tools")
    sub = dev.add_subparsers(dest="dev_command", required=True, metavar="COMMAND")
    p = sub.add_parser("twilio", help="run the local Twilio-compatible server",
                       description="Messages API with Basic auth, signed status callbacks, "
                                   "fault injection; control API under /_dev/.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8099)
    p.add_argument("--account-sid", default=None)
    p.add_argument("--callback-delay", type=float, default=0.5)
    p.set_defaults(handler=cmd_twilio)


def cmd_twilio(args: argparse.Namespace) -> int:
    argv = ["--host", args.host, "--port", str(args.port),
            "--callback-delay", str(args.callback_delay)]
    if args.account_sid:
        argv += ["--account-sid", args.account_sid]
    return twilio_server.main(argv)
