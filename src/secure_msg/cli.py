"""`secure-msg` command line: one argparse tree; each command group lives in its own module.

To add a group, write `cli_<group>.py` with `register(subparsers)` that adds its parser(s) and
sets `handler=` (a function taking the parsed args and returning the exit code), then add the
module to COMMAND_GROUPS below.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from secure_msg import (
    cli_admin,
    cli_admin_invite,
    cli_admin_migrate,
    cli_admin_retention,
    cli_client,
    cli_dev,
    cli_server,
)
from secure_msg.errors import ConfigError

COMMAND_GROUPS: tuple[ModuleType, ...] = (cli_server, cli_admin, cli_client, cli_dev)
# Imported for its side effect: it appends `admin invite` to cli_admin.ADMIN_SUBCOMMANDS.
_ADMIN_EXTENSIONS = (cli_admin_invite, cli_admin_retention, cli_admin_migrate)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="secure-msg", description="End-to-end encrypted therapy booklet service."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"secure-msg: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
