"""Pytest fixtures for code that talks to Twilio: the local Twilio-compatible server, settings
for the SDK gateway pointed at it, and a webhook sink that records what the server calls back.

Registered for the whole test suite by `pytest_plugins` in tests/conftest.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from secure_msg.channels.sms import TwilioSettings
from secure_msg.channels.sms_retry import RetryPolicy
from secure_msg.config import Secret, TwilioConfig
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-auth-token"  # noqa: S105 - the local test server's, not a secret
FROM_NUMBER = "+358451234000"


@pytest.fixture
async def twilio_server() -> AsyncIterator[RunningTwilioServer]:
    server = await serve_twilio(
        "127.0.0.1", 0, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, callback_delay=0.01
    )
    yield server
    await server.close()


@pytest.fixture
def settings(twilio_server: RunningTwilioServer) -> TwilioSettings:
    """Fast limits so fault tests finish quickly; the same code paths as production."""
    return TwilioSettings(
        TwilioConfig(ACCOUNT_SID, Secret(AUTH_TOKEN), FROM_NUMBER, twilio_server.url),
        request_timeout=0.5,
        retry=RetryPolicy(max_ambiguous_attempts=3, base_delay=0.01, max_delay=0.05),
        max_inline_wait=2.0,
    )


@dataclass
class Received:
    path_qs: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class WebhookSink:
    """A real HTTP server that records every POST it gets."""

    url: str
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, within: float = 5.0) -> list[Received]:
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


@pytest.fixture
async def webhook_sink() -> AsyncIterator[WebhookSink]:
    sink = WebhookSink(url="")

    async def record(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        sink.received.append(Received(request.path_qs, form, dict(request.headers)))
        sink.arrived.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    sink.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield sink
    await runner.cleanup()
