"""Least access (invariant 6) as a property: in random worlds of therapists, families and
booklets, nobody reads, writes, lists or manages a booklet they are not a current member of."""

from __future__ import annotations

import asyncio
import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_msg.client import Client, ClientError, Profile, blobs
from secure_msg.clock import FixedClock
from secure_msg.config import Config, load_config, with_overrides
from secure_msg.crypto import keys
from secure_msg.crypto.file_stream import encrypt_file
from secure_msg.crypto.rng import system_rng
from secure_msg.model.invitations import InvitationRequest
from secure_msg.model.roles import Role
from secure_msg.server_keys import generate_key_files
from secure_msg.services import invitation_service
from secure_msg.storage.db import DATABASE_URL_ENV, SqliteDatabase
from secure_msg.storage.pg_db import PgDatabase
from secure_msg.testing.contract import Contract
from secure_msg.web.app import create_app
from secure_msg.web.services import SERVICES

PASSWORD = "salasana"


@functools.cache
def blob_for(booklet: str) -> bytes:
    """The file's blob for the booklet (the server checks its header, docs/protocol.md §4.7):
    one per booklet, so that a download can be compared with what was uploaded."""
    return encrypt_file(b"liite", bytes.fromhex(booklet))[0]
derive = functools.lru_cache(maxsize=64)(keys.derive_password_keys)
FAMILIES = 4


@dataclass(frozen=True)
class Plan:
    owners: list[int]  # booklet b is opened by therapist owners[b] (0 or 1)
    members: list[list[int]]  # families in booklet b
    removed: list[int | None]  # a family removed from booklet b afterwards, if any


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    count = draw(st.integers(1, 3))
    owners = draw(st.lists(st.integers(0, 1), min_size=count, max_size=count))
    members = [sorted(draw(st.sets(st.integers(0, FAMILIES - 1), max_size=3)))
               for _ in range(count)]
    removed = [draw(st.sampled_from([None, *m])) if m else None for m in members]
    return Plan(owners, members, removed)


def _config(workdir: Path, backend: str) -> Config:
    keys_dir = workdir / "keys"
    generate_key_files(keys_dir, system_rng)
    return with_overrides(
        load_config(None, env={}),
        storage={"database_path": workdir / "db.sqlite", "keys_dir": keys_dir,
                 "backend": backend},
        argon2={"opslimit": 2, "memlimit_bytes": 19 * 1024 * 1024},
    )


def _client(base: str, http: aiohttp.ClientSession) -> Client:
    client = Client(Profile(server=base), http)
    client.derive = derive
    client.salt = lambda n: b"\x00" * n  # one salt, so PBKDF2 is paid once for the whole test
    client.now_ms = FixedClock().now_ms  # the server's: entries dated ahead of it are refused
    return client


async def _world(workdir: Path, plan: Plan, backend: str) -> None:
    app = create_app(_config(workdir, backend), clock=FixedClock())
    contract = Contract.install(app)
    server = TestServer(app)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        # The backend under test, not whatever the config would default to.
        assert isinstance(server.app[SERVICES].db, PgDatabase if backend == "postgresql"
                          else SqliteDatabase)
        async with aiohttp.ClientSession() as http:
            await _check(server, base, http, plan)
    finally:
        await server.close()
    assert contract.violations == []


async def _check(server: TestServer, base: str, http: aiohttp.ClientSession, plan: Plan) -> None:
    runtime = server.app[SERVICES]
    therapists = []
    for i in range(2):
        issued = await invitation_service.issue_staff(
            runtime.db, runtime.vault, FixedClock(), system_rng,
            request=InvitationRequest(Role.THERAPIST, f"t{i}"), lifetime_days=7)
        t = _client(base, http)
        await t.enroll(issued.link(base), f"terapeutti{i}", PASSWORD)
        therapists.append(t)
    booklets = [await therapists[o].create_booklet(f"b{b}") for b, o in enumerate(plan.owners)]
    families: dict[int, Client] = {}
    for b, members in enumerate(plan.members):
        owner = therapists[plan.owners[b]]
        for f in members:
            link = (await owner.invite(booklets[b], "guardian"))["link"]
            link = base + link[link.index("/enroll/"):]
            if f in families:
                await families[f].accept(link)
            else:
                families[f] = _client(base, http)
                await families[f].enroll(link, f"perhe{f}", PASSWORD)
    blob_ids = await _attach_files(therapists, booklets, plan)
    for b, gone in enumerate(plan.removed):
        if gone is not None:
            await therapists[plan.owners[b]].remove(booklets[b], families[gone].profile.account_id)

    def is_member(who: str, b: int) -> bool:
        if who.startswith("t"):
            return plan.owners[b] == int(who[1:])
        f = int(who[1:])
        return f in plan.members[b] and plan.removed[b] != f

    people = {f"t{i}": c for i, c in enumerate(therapists)}
    people.update({f"f{f}": c for f, c in families.items()})
    for who, c in people.items():
        mine = {r["id"] for r in (await c.api.call("GET", "/api/booklets"))["booklets"]}
        assert mine == {b for i, b in enumerate(booklets) if is_member(who, i)}, who
        for i, b in enumerate(booklets):
            await _check_files(c, b, blob_ids, [i == j and is_member(who, i)
                                                for j in range(len(blob_ids))])
            if is_member(who, i):
                await c.api.call("GET", f"/api/booklets/{b}/entries")
                continue
            with pytest.raises(ClientError) as refused:
                await blobs.upload(c.api, b, blob_for(b), len(blob_for(b)))
            assert refused.value.status == 404
            for method, suffix, body in [
                ("GET", "/entries", None), ("GET", "/members", None), ("GET", "/head", None),
                ("GET", "/receipts", None), ("GET", "/grants", None),
                ("POST", "/entries", {"envelope": "AQABEA"}),
                ("POST", "/receipts", {"read_seq": 1}),
                ("POST", "/invitations", {"role": "guardian"}),
                ("POST", "/grants", {"grant": "AQABIA"}),
                ("DELETE", f"/members/{c.profile.account_id}", None),
                ("GET", "/caregivers", None),
                ("POST", f"/caregivers/{c.profile.account_id}/consents", {"record": "AQABUA"}),
            ]:
                status = await _status(c, method, f"/api/booklets/{b}{suffix}", body)
                assert (who, method, suffix, status) == (who, method, suffix, 404)


async def _attach_files(therapists: list[Client], booklets: list[str], plan: Plan
                        ) -> list[str]:
    """Each booklet's therapist attaches a file to a note (before anyone is removed)."""
    blob_ids = []
    for b, owner_index in enumerate(plan.owners):
        owner = therapists[owner_index]
        blob = blob_for(booklets[b])
        blob_id = (await blobs.upload(owner.api, booklets[b], blob, len(blob)))["id"]
        await owner.post(booklets[b], "note", text="liite", blob_ids=[blob_id])
        blob_ids.append(blob_id)
    return blob_ids


async def _check_files(c: Client, booklet: str, blob_ids: list[str], allowed: list[bool]
                       ) -> None:
    """Each file under this booklet's path: the bytes where allowed, else 404."""
    for blob_id, ok in zip(blob_ids, allowed, strict=True):
        got = await _download(c, booklet, blob_id)
        assert (got == blob_for(booklet)) if ok else got == 404, (booklet, blob_id)


async def _download(c: Client, booklet: str, blob_id: str) -> bytes | int:
    """The blob's bytes, or the error status."""
    got = bytearray()
    try:
        await blobs.download(c.api, booklet, blob_id, got.extend, 1 << 16)
    except ClientError as exc:
        return exc.status
    return bytes(got)


async def _status(c: Client, method: str, path: str, body: dict[str, object] | None) -> int:
    try:
        await c.api.call(method, path, body)
    except ClientError as exc:
        return exc.status
    return 200


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=plans())
def test_no_cross_booklet_access(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                 monkeypatch: pytest.MonkeyPatch, plan: Plan) -> None:
    """Every read, write, list and management call on a booklet by a non-member is 404; an
    attachment is downloaded by its booklet's members only (not former ones), under that
    booklet only, and a non-member cannot upload into a booklet. On the run's backend
    (`make test-pg`: PostgreSQL, a fresh database per example)."""
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    if backend == "postgresql":
        monkeypatch.setenv(DATABASE_URL_ENV, request.getfixturevalue("pg_database")())
    asyncio.run(_world(workdir, plan, backend))
