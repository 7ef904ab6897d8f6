"""A server told to stop (SIGTERM) while browsers hold live sockets closes them with 1001 and
exits at once. aiohttp's shutdown waits for every running handler, and a live socket's runs as
long as its client stays: the server used to sit out its 60 s shutdown timeout (a deploy, a
`systemctl restart`, each waited a minute, or was killed half-way)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
from aiohttp import WSCloseCode, WSMsgType

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import start_server
from secure_msg.testing.two_processes import on, run_cli
from secure_msg.web.live import GOING_AWAY_REASON

PASSWORD = "correct horse battery staple"


async def test_stop_closes_live_sockets_with_1001_and_exits_cleanly(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        invite = run_cli(server, "admin", "invite", "--role", "therapist", "--name", "T",
                         "--json")
        assert invite.returncode == 0, invite.stderr
        async with aiohttp.ClientSession() as http:
            therapist = Client(Profile(), http)
            await therapist.enroll(on(server, json.loads(invite.stdout)["link"]), "tiina",
                                   PASSWORD)
            listening = await http.ws_connect(server.url("/api/live"))
            await listening.send_str(json.dumps({"token": therapist.profile.token}))
            assert json.loads((await listening.receive(timeout=5)).data)["type"] == "ready"
            waiting = await http.ws_connect(server.url("/api/live"))  # no token sent yet
            async with http.get(server.url("/metrics")) as response:
                assert "\nsecure_msg_live_sockets 2.0\n" in await response.text()

            started = time.monotonic()
            code = server.stop(timeout=20)
            took = time.monotonic() - started
            assert code == 0, f"not a clean exit ({code}) after {took:.1f} s"
            for ws in (listening, waiting):
                message = await ws.receive(timeout=5)
                assert message.type is WSMsgType.CLOSE
                assert (message.data, message.extra) == (WSCloseCode.GOING_AWAY,
                                                          GOING_AWAY_REASON)
                await ws.close()
    finally:
        server.stop()
