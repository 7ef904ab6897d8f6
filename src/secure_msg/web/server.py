"""Run an app until SIGINT/SIGTERM, reporting the bound address once it listens."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web


async def serve(
    app: web.Application, host: str, port: int, on_listening: Callable[[int], None]
) -> None:
    """Serve `app`; call `on_listening(actual_port)` once bound (port 0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()  # runs cleanup_ctx start-up: database, keys
    try:
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        on_listening(int(runner.addresses[0][1]))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()  # closes the database after in-flight writes finish
