"""A family around one booklet, on the real server (a subprocess), driven by the Python client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import ServerProcess

PASSWORD = "correct horse battery staple"


def admin_invite(server: ServerProcess, name: str, role: str = "therapist") -> str:
    """`secure-msg admin invite` against the running server's database, as an operator would."""
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", role, "--name", name, "--json"],
        check=True, capture_output=True, text=True, timeout=60,
        env={**os.environ, **server.env},  # the backend and its DSN, on PostgreSQL
    )
    link: str = json.loads(out.stdout)["link"]
    # The config's public URL is the default; the test server listens on an ephemeral port.
    return server.base_url + link[link.index("/enroll/"):]


@dataclass
class People:
    server: ServerProcess
    http: aiohttp.ClientSession
    clients: dict[str, Client] = field(default_factory=dict)

    async def enroll(self, name: str, link: str) -> Client:
        client = Client(Profile(), self.http)
        await client.enroll(link, name, PASSWORD)
        self.clients[name] = client
        return client

    def link(self, invite_result: dict[str, str]) -> str:
        link = invite_result["link"]
        return self.server.base_url + link[link.index("/enroll/"):]


@pytest.fixture
async def people(
    server_factory: Callable[..., ServerProcess],
) -> AsyncIterator[People]:
    server = server_factory()
    async with aiohttp.ClientSession() as http:
        yield People(server, http)


def scan_files(paths: list[Path], needles: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        data = path.read_bytes()
        for needle in needles:
            if needle.encode() in data:
                found.append((path.name, needle))
    return found
