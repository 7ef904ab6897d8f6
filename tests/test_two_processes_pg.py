"""Two app processes on one PostgreSQL database: writes stay strictly ordered (issue 18).

Two real servers (`secure-msg serve`, separate processes, the same keys and the same database)
take posts from Python clients at once: several posters into one booklet through both servers,
and one booklet per server besides. Each process's writer reads a chain head (the audit chain's,
a booklet's entry chain's) and extends it in its own transaction; without the writers'
advisory lock (storage/pg_db.py, WRITE_LOCK) two processes read the same head and one post
fails on the primary key, a 500. With it: no post fails but for the protocol's own
sequence-conflict (the client re-seals), every acknowledged entry is stored once in an
unbroken chain, and `secure-msg admin audit verify` passes.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from secure_msg.client import Client, ClientError, Profile, blobs
from secure_msg.client.attachments import attachments_of, post_files, save_files
from secure_msg.client.http import b64d
from secure_msg.crypto import envelope
from secure_msg.testing.server_pair import start_pair
from secure_msg.testing.two_processes import on, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

PASSWORD = "correct horse battery staple"
POSTS_EACH = 25
POSTERS_PER_CLIENT = 2  # per (client, booklet): the same account posting twice at once too


async def _poster(client: Client, booklet: str, name: str, acked: list[str],
                  failures: list[str]) -> None:
    posted = 0
    while posted < POSTS_EACH:
        try:
            result = await client.post(booklet, "note", text=f"{name} {posted}")
        except ClientError as exc:
            if exc.code == "sequence-conflict":  # five re-seals all lost the race: again
                continue
            failures.append(f"{name}: {exc.status} {exc.code}")
            posted += 1
            continue
        acked.append(result["entry_id"])
        posted += 1


def _chain_ids(entries: list[tuple[dict[str, object], envelope.OpenedEntry]]) -> list[str]:
    """The entry ids, checking the chain: sequences 1, 2, 3… each naming the one before."""
    prev, ids = envelope.ZERO_HASH, []
    for n, (raw, opened) in enumerate(entries, start=1):
        assert opened.header.sequence == raw["seq"] == n
        assert opened.header.prev_hash == prev
        prev = envelope.entry_hash(b64d(str(raw["envelope"])))
        ids.append(str(raw["entry_id"]))
    return ids


async def test_concurrent_posts_through_two_processes_stay_ordered(
    tmp_path: Path, pg_database: Callable[[], str],
) -> None:
    first, second = start_pair(tmp_path, pg_database())
    try:
        async with aiohttp.ClientSession() as http:
            invite = run_cli(first, "admin", "invite", "--role", "therapist", "--name", "T",
                              "--json")
            assert invite.returncode == 0, invite.stderr
            therapist = Client(Profile(), http)
            await therapist.enroll(on(first, json.loads(invite.stdout)["link"]), "terapeutti",
                                   PASSWORD)
            shared, only_first, only_second = [
                await therapist.create_booklet(title) for title in ("S", "A", "B")]
            guardian = Client(Profile(), http)  # lives on the second process
            link = (await therapist.invite(shared, "guardian"))["link"]
            await guardian.enroll(on(second, link), "vanhempi", PASSWORD)
            for booklet in (only_first, only_second):
                await guardian.accept((await therapist.invite(booklet, "guardian"))["link"])
            assert therapist.api.base_url == first.base_url
            assert guardian.api.base_url == second.base_url

            # Setting up wrote entries of its own (the roster): what was there before counts.
            acked = [raw["entry_id"] for booklet in (shared, only_first, only_second)
                     for raw, _ in await therapist.read_raw(booklet)]
            before = len(acked)
            failures: list[str] = []
            jobs = [(therapist, shared, "t-s"), (guardian, shared, "g-s"),
                    (therapist, only_first, "t-a"), (guardian, only_second, "g-b")]
            await asyncio.wait_for(asyncio.gather(*(
                _poster(client, booklet, f"{name}{i}", acked, failures)
                for client, booklet, name in jobs for i in range(POSTERS_PER_CLIENT))),
                timeout=300)
            assert failures == []
            assert len(acked) == len(jobs) * POSTERS_PER_CLIENT * POSTS_EACH + before

            stored: list[str] = []
            for booklet in (shared, only_first, only_second):
                from_first = _chain_ids(await therapist.read_raw(booklet))
                assert _chain_ids(await guardian.read_raw(booklet)) == from_first
                assert therapist.history_problems[booklet] == []
                assert guardian.history_problems[booklet] == []
                stored += from_first
            assert sorted(stored) == sorted(acked)  # each acknowledged entry, once
    finally:
        first.stop()
        second.stop()
    verify = run_cli(first, "admin", "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_a_document_uploaded_through_one_process_downloads_through_the_other(
    tmp_path: Path, pg_database: Callable[[], str],
) -> None:
    """Issue 18, "document blobs in a store every process reaches": the therapist's process
    takes the upload (several 1 MiB parts in the database, storage/pg_blobs.py), the guardian's
    process serves it, byte for byte, and the client's checks of the decrypted file pass.
    With blobs as files in each process's own blob directory the second answers 404."""
    first, second = start_pair(tmp_path, pg_database())
    try:
        async with aiohttp.ClientSession() as http:
            invite = run_cli(first, "admin", "invite", "--role", "therapist", "--name", "T",
                              "--json")
            assert invite.returncode == 0, invite.stderr
            therapist = Client(Profile(), http)
            await therapist.enroll(on(first, json.loads(invite.stdout)["link"]), "terapeutti",
                                   PASSWORD)
            booklet = await therapist.create_booklet("Aino")
            guardian = Client(Profile(), http)
            link = (await therapist.invite(booklet, "guardian"))["link"]
            await guardian.enroll(on(second, link), "vanhempi", PASSWORD)
            await therapist.grant_history(booklet, guardian.profile.account_id or "", {"title"})
            document = tmp_path / "lausunto.pdf"
            document.write_bytes(b"%PDF-1.7\n" + os.urandom(3 * 1024 * 1024 + 12_345))
            posted = await post_files(therapist, booklet, [document], text="Lausunto")

            (attachment,) = await attachments_of(guardian, booklet, posted["seq"])
            through: dict[str, bytes] = {}
            for name, client in (("first", therapist), ("second", guardian)):
                got = bytearray()
                await blobs.download(client.api, booklet, attachment.blob_id, got.extend,
                                     1 << 30)
                through[name] = bytes(got)
            assert through["second"] == through["first"]
            assert len(through["second"]) > 3 * (1 << 20)  # four parts
            saved = await save_files(guardian, booklet, posted["seq"], tmp_path / "saved")
            assert [s.path.read_bytes() for s in saved] == [document.read_bytes()]
    finally:
        first.stop()
        second.stop()
