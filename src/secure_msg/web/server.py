"""Run an app until SIGINT/SIGTERM, reporting the bound address once it listens."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from secure_msg.web.context import CONFIG
from secure_msg.web.middleware import HSTS
from secure_msg.web.protocol import ConnectionGuard, protocol_factory


async def serve(
    app: web.Application, host: str, port: int, on_listening: Callable[[int], None],
    *, reuse_port: bool = False,
) -> None:
    """Serve `app`; call `on_listening(actual_port)` once bound (port 0 picks a free one).
    `reuse_port`: share the port with other processes (SO_REUSEPORT; `serve --workers`).

    The socket is opened here rather than by aiohttp's TCPSite so that each connection gets
    web/protocol.py's handler: `web.Server` constructs aiohttp's own RequestHandler and takes
    no class to use instead. The runner's server stays the connections' manager, so shutdown
    closes and awaits them as before.
    """
    settings = app[CONFIG].server
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()  # runs cleanup_ctx start-up: database, keys
    listener: asyncio.Server | None = None
    try:
        assert runner.server is not None
        guard = ConnectionGuard(float(settings.header_timeout_seconds),
                                settings.max_connections, app[HSTS])
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            protocol_factory(runner.server, guard, float(settings.keepalive_timeout_seconds)),
            host, port, backlog=1024, reuse_port=reuse_port or None)
        on_listening(int(listener.sockets[0].getsockname()[1]))
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if listener is not None:
            listener.close()  # no new connections; the runner closes the open ones
        await runner.cleanup()  # closes the database after in-flight writes finish
