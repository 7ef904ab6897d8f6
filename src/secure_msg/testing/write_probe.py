"""The real app plus one test-only route, POST /test/write, for durability tests and benches.

    python -m secure_msg.testing.write_probe --config PATH

Each POST appends an audit event whose target is "marker:<body>" through the group-commit
writer and answers 201 only after the COMMIT, exactly as a domain write would. Never mounted in
the production app: it lives in its own entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
from pathlib import Path

from aiohttp import web

from secure_msg.config import load_config
from secure_msg.logging import configure_logging
from secure_msg.storage import audit as audit_store
from secure_msg.web import routes
from secure_msg.web.app import create_app
from secure_msg.web.openapi import add_route
from secure_msg.web.server import serve
from secure_msg.web.services import services


async def write_marker(request: web.Request) -> web.Response:
    marker = (await request.text())[:100]
    txn = functools.partial(
        audit_store.append_audit_txn, at_ms=services(request).clock.now_ms(), actor="system",
        action="test.write", target=f"marker:{marker}",
    )
    event = await services(request).db.write(txn)
    return web.json_response({"seq": event.seq}, status=201)


def setup_probe_routes(app: web.Application) -> None:
    add_route(app, "POST", "/test/write", write_marker, summary="Test only: durable write",
              status=201)


def main() -> None:
    parser = argparse.ArgumentParser(prog="write_probe")
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args()
    config = load_config(args.config)
    configure_logging(config.logging.level)
    app = create_app(config, route_setups=[*routes.ROUTE_SETUPS, setup_probe_routes])

    def on_listening(port: int) -> None:
        print(f"secure-msg: listening on http://{config.server.host}:{port}", flush=True)

    asyncio.run(serve(app, config.server.host, config.server.port, on_listening))


if __name__ == "__main__":
    main()
