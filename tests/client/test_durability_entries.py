"""Invariant 5: an entry acknowledged to a client survives kill -9, with its hash chain."""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp
import pytest

from secure_msg.client import Client, ClientError
from secure_msg.client.http import b64d
from secure_msg.crypto import envelope
from secure_msg.testing.pytest_postgresql import both_backends

from .conftest import People, admin_invite

pytestmark = pytest.mark.slow


async def _poster(client: Client, booklet: str, name: str, acked: list[str],
                  stop: asyncio.Event, enough: asyncio.Event) -> None:
    i = 0
    while not stop.is_set():
        try:
            result = await client.post(booklet, "note", text=f"{name} {i}")
        except (ClientError, aiohttp.ClientError, OSError):
            return  # the server died under us: what was acknowledged is what counts
        acked.append(result["entry_id"])
        if len(acked) >= 40:
            enough.set()
        i += 1


@pytest.mark.parametrize("backend", both_backends())
async def test_acknowledged_entries_survive_kill_9(people: People, backend: str) -> None:
    """Entries posted concurrently by four writers into two booklets, kill -9 mid-stream:
    after restart every acknowledged entry is there, chains are intact, the audit verifies.
    On both backends (PostgreSQL: the app process is killed, the database server goes on)."""
    therapist = await people.enroll("terapeutti", admin_invite(people.server, "T"))
    booklets = [await therapist.create_booklet(f"B{i}") for i in range(2)]
    parents = []
    for i, booklet in enumerate(booklets):
        parent = await people.enroll(f"vanhempi{i}", people.link(
            await therapist.invite(booklet, "guardian")))
        await therapist.grant_history(booklet, parent.profile.account_id, {"title"})
        parents.append(parent)
    acked: list[str] = []
    stop, enough = asyncio.Event(), asyncio.Event()
    writers = [asyncio.create_task(_poster(c, b, f"w{i}", acked, stop, enough))
               for i, (c, b) in enumerate([(therapist, booklets[0]), (parents[0], booklets[0]),
                                           (therapist, booklets[1]), (parents[1], booklets[1])])]
    await asyncio.wait_for(enough.wait(), timeout=60)
    people.server.kill()
    stop.set()
    await asyncio.gather(*writers)
    people.server.start()
    therapist.api.base_url = people.server.base_url
    stored: set[str] = set()
    for booklet in booklets:
        prev = envelope.ZERO_HASH
        for raw, opened in await therapist.read_raw(booklet):
            assert opened.header.prev_hash == prev
            assert opened.header.sequence == raw["seq"]
            prev = envelope.entry_hash(b64d(raw["envelope"]))
            stored.add(raw["entry_id"])
    assert set(acked) <= stored
    audit = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "secure_msg", "admin", "audit", "verify", "--config",
        str(people.server.config_path), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={**os.environ, **people.server.env})
    output, _ = await asyncio.wait_for(audit.communicate(), timeout=60)
    assert audit.returncode == 0, output.decode()
