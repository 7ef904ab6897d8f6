"""`secure-msg init | serve | run`: set up config and keys, run the server."""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from secure_msg.cli_workers import check_workers, run_workers
from secure_msg.clock import SystemClock
from secure_msg.config import (
    DEFAULT_CONFIG_PATH,
    EXAMPLE_CONFIG_PATH,
    Config,
    Secret,
    load_config,
    require_twilio_complete,
    with_overrides,
)
from secure_msg.crypto.rng import system_rng
from secure_msg.errors import ConfigError
from secure_msg.logging import configure_logging, get_logger, log_event
from secure_msg.model.invitations import IssuedInvitation
from secure_msg.server_keys import generate_key_files, key_files_present, load_vault
from secure_msg.services.invitation_service import ensure_bootstrap_admin
from secure_msg.storage.db import make_private, open_database
from secure_msg.testing import clock as test_clock
from secure_msg.testing.twilio_server import (
    DEV_ACCOUNT_SID,
    RunningTwilioServer,
    serve_twilio,
)
from secure_msg.web.app import create_app
from secure_msg.web.server import serve

log = get_logger(__name__)


def register(subparsers: Any) -> None:
    for name, handler, help_text in (
        ("init", cmd_init, "write config/secure-msg.toml and generate keys/ (never overwrites)"),
        ("serve", cmd_serve, "run the server with the existing config and keys"),
        ("run", cmd_run, "init when needed, print the admin enrollment link, serve"),
    ):
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        add_config_argument(parser)
        if name == "init":
            parser.add_argument("--example", type=Path, default=EXAMPLE_CONFIG_PATH,
                                help="example file to copy (default: %(default)s)")
        if name == "serve":
            parser.add_argument(
                "--workers", type=int, default=1,
                help="processes sharing the port, on one PostgreSQL database (default: 1)")
            parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
        parser.set_defaults(handler=handler)


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path,
        default=Path(os.environ.get("SECURE_MSG_CONFIG", DEFAULT_CONFIG_PATH)),
        help="config file (default: $SECURE_MSG_CONFIG or %(default)s)",
    )


def write_config(config_path: Path, example: Path) -> bool:
    """Copy the example to `config_path` unless it exists; True if written."""
    if config_path.exists():
        return False
    if not example.exists():
        raise ConfigError("(file)", f"{example} not found; run from the project directory")
    config_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(example, config_path)
    return True


def cmd_init(args: argparse.Namespace) -> int:
    """Strict: refuses clearly if the config or any key already exists."""
    if args.config.exists():
        print(f"secure-msg init: {args.config} already exists; not overwriting it.",
              file=sys.stderr)
        return 1
    write_config(args.config, args.example)
    config = load_config(args.config)
    for path in generate_key_files(config.storage.keys_dir, system_rng):
        print(f"wrote {path} (mode 0600)")
    make_private(config.storage.database_path, create=False)
    print(f"prepared {config.storage.database_path.parent}/ (mode 0700) for the database")
    print(f"wrote {args.config}; back up {config.storage.keys_dir}/ separately from the database")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_workers(config, args.workers)
    configure_logging(config.logging.level)
    if args.workers > 1:
        return run_workers(args.config, config, args.workers,
                           functools.partial(base_url, config))
    asyncio.run(_serve(config, bootstrap=False, worker=args.worker))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`make run`: whatever of config and keys is missing is created, nothing is overwritten."""
    write_config(args.config, EXAMPLE_CONFIG_PATH)
    config = load_config(args.config)
    if not key_files_present(config.storage.keys_dir):
        generate_key_files(config.storage.keys_dir, system_rng)
    configure_logging(config.logging.level)
    asyncio.run(_serve(config, bootstrap=True))
    return 0


async def _admin_invitation(config: Config) -> IssuedInvitation | None:
    """Issue the bootstrap admin invitation (a short-lived database handle before serving)."""
    vault = load_vault(config.storage.keys_dir, system_rng)
    database = await open_database(config.storage, readers=1)
    try:
        issued = await ensure_bootstrap_admin(
            database, vault, SystemClock(), system_rng,
            lifetime_days=config.accounts.invitation_lifetime_days,
        )
    finally:
        await database.close()
    return issued


async def _serve(config: Config, *, bootstrap: bool, worker: bool = False) -> None:
    """`worker`: one of `serve --workers N`'s processes (cli_workers.py): it shares the port
    (SO_REUSEPORT) and reports itself ready to the parent, which says `listening on`."""
    def on_listening(port: int) -> None:
        # What start-up built (modules, routes, config) lives as long as the process: frozen,
        # the collector no longer walks it, and a full collection stops being a 25-40 ms pause
        # in the middle of requests (docs/performance.md, "Reading").
        gc.collect()
        gc.freeze()
        url = base_url(config, port)
        # stdout, not the log: the operator (and the test fixture) reads this line.
        if worker:
            print(f"secure-msg: worker {os.getpid()} ready on {url}", flush=True)
        else:
            print(f"secure-msg: listening on {url}", flush=True)
        log_event(log, logging.INFO, "listening", port=port)
        if issued:
            link = issued.link(url)
            print(f"secure-msg: one-time admin enrollment link: {link}", flush=True)
        for line in notes:
            print(line, flush=True)

    require_twilio_complete(config.twilio)  # before the dev server would stand in for it
    issued = await _admin_invitation(config) if bootstrap else None
    notes: list[str] = []
    dev_twilio = await _dev_twilio(config) if bootstrap and not config.twilio.account_sid else None
    if dev_twilio is not None:
        config = with_overrides(config, twilio={
            "account_sid": DEV_ACCOUNT_SID, "auth_token": Secret(dev_twilio.state.auth_token),
            "from_number": DEV_FROM_NUMBER, "api_base_url": dev_twilio.url})
        notes.append("secure-msg: no Twilio credentials configured: SMS goes to the local "
                     f"Twilio-compatible server at {dev_twilio.url} "
                     f"(see {dev_twilio.url}/_dev/messages); nothing leaves this machine")
    clock = test_clock.from_environment()
    if clock is not None:
        notes.append("secure-msg: TEST CLOCK in use (SECURE_MSG_TEST_CLOCK_FILE); "
                     "not for production")
    try:
        await serve(create_app(config, clock=clock), config.server.host, config.server.port,
                    on_listening, reuse_port=worker)
    finally:
        if dev_twilio is not None:
            await dev_twilio.close()


DEV_FROM_NUMBER = "+358000000001"
DEV_TWILIO_PORT = 8099


async def _dev_twilio(config: Config) -> RunningTwilioServer:
    """The local Twilio-compatible server for `make run` without credentials. Its auth token,
    which signs the webhooks, is new each run: a fixed, published one would let anyone who can
    reach an exposed `make run` forge webhooks (cancel appointments, probe phone numbers)."""
    token = system_rng(16).hex()
    try:
        return await serve_twilio("127.0.0.1", DEV_TWILIO_PORT, account_sid=DEV_ACCOUNT_SID,
                                  auth_token=token, callback_delay=0.5)
    except OSError:  # the port is taken: any free one
        return await serve_twilio("127.0.0.1", 0, account_sid=DEV_ACCOUNT_SID,
                                  auth_token=token, callback_delay=0.5)


def base_url(config: Config, port: int) -> str:
    """The public URL; with port 0 (tests) the configured one cannot be right, so use the bound."""
    if config.server.port == 0:
        return f"http://{config.server.host}:{port}"
    return config.server.public_base_url
