"""Encrypted attachments over the API (services/blob_service.py): upload, attach, download, and
every bad input a named problem+json with nothing stored: no row, no file, no temp file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import Client, ClientError, blobs
from secure_msg.client.http import b64d
from secure_msg.clock import FixedClock
from secure_msg.config import Config, with_overrides
from secure_msg.crypto.file_stream import blob_length, encrypt_file
from secure_msg.errors import BlobTooLarge
from secure_msg.model.accounts import Session
from secure_msg.model.roles import Role
from secure_msg.services import blob_service
from secure_msg.storage.blob_files import BlobFiles
from secure_msg.storage.pg_blobs import PgBlobs
from secure_msg.testing.raw_http import RawConnection
from secure_msg.web.services import SERVICES

from .conftest import World

MAX_BLOB = 64 * 1024
QUOTA = 200 * 1024
FILE = 60_000  # a file whose blob (BLOB bytes) fits MAX_BLOB; three fit QUOTA, four do not
BLOB = blob_length(FILE)
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def config(config: Config) -> Config:
    """Small limits, so that the refusals are cheap to reach."""
    return with_overrides(config, blobs={"max_blob_bytes": MAX_BLOB, "upload_timeout_seconds": 2,
                                         "booklet_quota_bytes": QUOTA, "max_per_entry": 3})


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every refusal here is the client's doing: nothing may log an ERROR (a 500 would)."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


@pytest.fixture
async def family(world: World) -> tuple[Client, Client, str]:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    return therapist, mum, booklet


def blob_dir(world: World) -> Path:
    store = world.http.app[SERVICES].blobs.files
    assert isinstance(store, BlobFiles)
    return store.root


def on_files(world: World) -> bool:
    """SQLite's blob directory (else PostgreSQL's blob_chunks)."""
    return isinstance(world.http.app[SERVICES].blobs.files, BlobFiles)


async def files(world: World) -> list[str]:
    """What the blob store holds, by name: every file in the blob directory and its tmp/; on
    PostgreSQL "booklet/blob" of every blob with a committed part."""
    store = world.http.app[SERVICES].blobs.files
    if isinstance(store, BlobFiles):
        root = store.root
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert isinstance(store, PgBlobs)
    return [f"{b.hex()}/{i.hex()}" for b, i in await store.held()]


async def stored_bytes(world: World, booklet_id: bytes, blob_id: bytes, size: int) -> bytes:
    store = world.http.app[SERVICES].blobs.files
    if isinstance(store, BlobFiles):
        return store.path(booklet_id, blob_id).read_bytes()
    assert isinstance(store, PgBlobs)
    return await store.read_all(blob_id, size)


async def rows(world: World) -> list[tuple[Any, ...]]:
    def txn(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
        return conn.execute(
            "SELECT id, booklet_id, size, entry_seq FROM blobs ORDER BY created_at_ms").fetchall()

    return await world.http.app[SERVICES].db.read(txn)


async def audit(world: World, prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, account id, detail) of the audit events whose action starts with `prefix`."""
    def txn(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        return conn.execute("SELECT action, actor, detail FROM audit_events WHERE action LIKE ?"
                            " ORDER BY seq", (prefix + "%",)).fetchall()

    rows = await world.http.app[SERVICES].db.read(txn)
    return [(a, actor.removeprefix("account:"), json.loads(d)) for a, actor, d in rows]


async def upload(world: World, c: Client, booklet: str, data: bytes,
                 headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return await world.raw("POST", f"/api/booklets/{booklet}/blobs", c.profile.token,
                           data=data, headers={**OCTETS, **(headers or {})})


def sealed(booklet: str, plain: bytes) -> bytes:
    """The blob of a file with content `plain`, for the booklet (docs/protocol.md §4.7)."""
    return encrypt_file(plain, bytes.fromhex(booklet))[0]


async def uploaded(world: World, c: Client, booklet: str, plain: bytes) -> str:
    """Upload the blob of a file holding `plain`; its id."""
    data = sealed(booklet, plain)
    status, body = await upload(world, c, booklet, data)
    assert status == 201, body
    assert body["size"] == len(data)
    assert b64d(body["sha256"]) == hashlib.sha256(data).digest()
    return str(body["id"])


async def download(world: World, c: Client, booklet: str, blob: str
                   ) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {c.profile.token}"}
    async with world.http.get(f"/api/booklets/{booklet}/blobs/{blob}", headers=headers) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


def raw_head(booklet: str, token: str, length: int | None, extra: str = "") -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"POST /api/booklets/{booklet}/blobs HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
            f"{size}{extra}\r\n").encode()


async def test_an_attachment_goes_up_and_comes_down_byte_identical(
        world: World, family: tuple[Client, Client, str]) -> None:
    """Uploaded by one member, listed by her entry, downloaded by another: the same bytes, as
    an attachment of no type the browser could render, and the row records the entry."""
    therapist, mum, booklet = family
    data = sealed(booklet, os.urandom(FILE))
    status, body = await upload(world, mum, booklet, data)
    assert status == 201, body
    assert (body["size"], b64d(body["sha256"])) == (len(data), hashlib.sha256(data).digest())
    blob = str(body["id"])
    assert (await rows(world))[0][3] is None  # pending
    posted = await mum.post(booklet, "note", text="liite", blob_ids=[blob])
    assert (await rows(world))[0][3] == posted["seq"]
    status, body, headers = await download(world, therapist, booklet, blob)
    assert status == 200
    assert body == data
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == "attachment"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Length"] == str(len(data))
    assert await files(world) == [f"{booklet}/{blob}"]  # each booklet's blobs in a directory
    await world.http.app[SERVICES].entries.fetch_audit.flush()
    assert await audit(world, "blob.") == [
        ("blob.uploaded", mum.profile.account_id, {"blob": blob, "bytes": len(data)}),
        ("blob.fetched", therapist.profile.account_id,
         {"seq": posted["seq"], "blob": blob, "bytes": len(data)})]
    if not on_files(world):
        return
    mode = (blob_dir(world) / booklet / blob).stat().st_mode & 0o777
    assert mode == 0o600
    assert blob_dir(world).stat().st_mode & 0o777 == 0o700
    assert (blob_dir(world) / booklet).stat().st_mode & 0o777 == 0o700


async def test_an_oversize_length_is_refused_before_the_body_is_sent(
        world: World, family: tuple[Client, Client, str]) -> None:
    """Only the head is sent: the 413 comes without a byte of body, so the server cannot have
    read it; and with `Expect: 100-continue` the server never says continue."""
    _, mum, booklet = family
    host, port = world.http.host, world.http.port
    for extra in ("", "Expect: 100-continue\r\n"):
        async with RawConnection.open(host, port) as conn:
            await conn.send(raw_head(booklet, mum.profile.token, 10**9, extra))
            answer = await conn.response(within=5)
            assert answer.status == 413
            assert answer.json()["type"] == "blob-too-large"
    assert await rows(world) == []
    assert await files(world) == []


async def test_the_python_client_gets_the_refusal_without_sending_the_body(
        world: World, family: tuple[Client, Client, str]) -> None:
    """client/blobs.py sends Expect: 100-continue: an oversize upload ends with the named
    problem, and the generator that would have produced the body is never started."""
    _, mum, booklet = family
    started = []

    async def body() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"x" * (MAX_BLOB + 1)

    with pytest.raises(ClientError) as refused:
        await blobs.upload(mum.api, booklet, body(), MAX_BLOB + 1)
    assert (refused.value.status, refused.value.code) == (413, "blob-too-large")
    assert refused.value.extra["max_bytes"] == MAX_BLOB
    assert started == []
    assert await files(world) == []


async def test_expect_continue_is_answered_only_once_the_upload_is_admitted(
        world: World, family: tuple[Client, Client, str]) -> None:
    _, mum, booklet = family
    data = sealed(booklet, b"x" * 1000)
    async with RawConnection.open(world.http.host, world.http.port) as conn:
        await conn.send(raw_head(booklet, mum.profile.token, len(data),
                                 "Expect: 100-continue\r\n"))
        interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        await conn.send(data)
        answer = await conn.response(within=5)
    assert answer.status == 201
    assert answer.json()["size"] == len(data)


async def test_a_missing_length_is_411_and_stores_nothing(
        world: World, family: tuple[Client, Client, str]) -> None:
    _, mum, booklet = family
    async with RawConnection.open(world.http.host, world.http.port) as conn:
        await conn.send(raw_head(booklet, mum.profile.token, None,
                                 "Transfer-Encoding: chunked\r\n") + b"3\r\nabc\r\n0\r\n\r\n")
        answer = await conn.response(within=5)
    assert answer.status == 411
    assert answer.json()["type"] == "length-required"
    assert await rows(world) == []
    assert await files(world) == []


async def test_a_body_cut_short_leaves_no_file(
        world: World, family: tuple[Client, Client, str]) -> None:
    """The client promises 1000 bytes, sends 10 and hangs up: no row, no temp file."""
    _, mum, booklet = family
    async with RawConnection.open(world.http.host, world.http.port) as conn:
        await conn.send(raw_head(booklet, mum.profile.token, 1000) + b"0123456789")
        await asyncio.sleep(0.2)  # the server is reading the body into tmp/
    for _ in range(100):
        if not await files(world):
            break
        await asyncio.sleep(0.02)
    assert await files(world) == []
    assert await rows(world) == []


async def test_a_stalled_upload_times_out_with_its_own_timeout_and_leaves_no_file(
        world: World, family: tuple[Client, Client, str]) -> None:
    """[blobs] upload_timeout_seconds (2 s here) applies to uploads, not the 60 s body timeout:
    408 while the client holds the connection open, and tmp/ is empty again."""
    _, mum, booklet = family
    async with RawConnection.open(world.http.host, world.http.port) as conn:
        await conn.send(raw_head(booklet, mum.profile.token, 1000) + b"0123456789")
        answer = await conn.response(within=8)
    assert answer.status == 408
    assert answer.json()["type"] == "request-timeout"
    assert await files(world) == []
    assert await rows(world) == []


async def test_bytes_past_the_length_never_join_the_blob(
        world: World, family: tuple[Client, Client, str]) -> None:
    """HTTP frames the body by its Content-Length: bytes sent after it are a next request
    (refused, the connection closed), never part of the blob. Whether the first request
    completed first is the transport's business; either way at most the declared bytes are
    stored and no temp file stays."""
    _, mum, booklet = family
    data = sealed(booklet, b"0123456789")
    async with RawConnection.open(world.http.host, world.http.port) as conn:
        await conn.send(raw_head(booklet, mum.profile.token, len(data)) + data + b"EXTRA" * 20)
        statuses = [(await conn.response(within=5)).status]
        if statuses[0] == 201:
            statuses.append((await conn.response(within=5)).status)
        assert await conn.closed_within(5)
    assert statuses[-1] == 400
    stored = await rows(world)
    assert [(r[2], await stored_bytes(world, r[1], r[0], r[2])) for r in stored] in (
        [], [(len(data), data)])
    assert not any(p.startswith("tmp/") for p in await files(world))


async def test_a_stream_longer_than_declared_is_refused_and_leaves_nothing(
        world: World, family: tuple[Client, Client, str]) -> None:
    """The service's own bound on the stream (a transport that did not frame the body)."""
    _, mum, booklet = family
    blobs = world.http.app[SERVICES].blobs
    assert mum.profile.account_id
    data = sealed(booklet, b"y" * 100)
    session = await blob_service.admit(
        blobs, lambda conn: _session(world, mum), bytes.fromhex(booklet), len(data))

    async def chunks() -> Any:
        yield data
        yield b"y" * 60

    with pytest.raises(BlobTooLarge):
        await blob_service.store_upload(blobs, session, bytes.fromhex(booklet), len(data),
                                        chunks())
    assert await files(world) == []
    assert await rows(world) == []


def _session(world: World, c: Client) -> Session:
    assert c.profile.account_id
    return Session(account_id=bytes.fromhex(c.profile.account_id), role=Role.GUARDIAN,
                   expires_at_ms=world.clock.now_ms() + 60_000)


async def test_bad_uploads_are_named_problems_and_store_nothing(
        world: World, family: tuple[Client, Client, str]) -> None:
    _, mum, booklet = family
    other_therapist = await world.therapist("toinen")
    cases: list[tuple[str, Client | None, dict[str, str], int, str]] = [
        ("no token", None, {}, 401, "unauthorized"),
        ("not a member", other_therapist, {}, 404, "not-found"),
        ("not octets", mum, {"Content-Type": "application/pdf"}, 415, "unsupported-media-type"),
    ]
    for name, who, headers, status, code in cases:
        token = who.profile.token if who else None
        got, body = await world.raw("POST", f"/api/booklets/{booklet}/blobs", token,
                                    data=b"z" * 100, headers={**OCTETS, **headers})
        assert (got, body["type"]) == (status, code), name
    assert await rows(world) == []
    assert await files(world) == []


async def test_what_is_no_blob_of_this_booklet_is_refused_and_stores_nothing(
        world: World, family: tuple[Client, Client, str]) -> None:
    """The checks that need no key (docs/protocol.md §4.7): a header that is not one, a blob of
    another booklet, a length no file's blob has; too short to hold one even before the body."""
    therapist, mum, booklet = family
    other = await therapist.create_booklet("Eero")
    good = sealed(booklet, os.urandom(1000))
    chunked = encrypt_file(os.urandom(3000), bytes.fromhex(booklet), chunk_size=1024)[0]
    cases = [
        ("not a blob", b"%PDF-1.7 " + os.urandom(200), "unsupported-version"),
        ("another booklet's", sealed(other, os.urandom(1000)), "wrong-booklet"),
        # 1 KiB chunks: cut 10 bytes into the second, a length no file's blob has (a cut that
        # leaves a valid length is only found by the reader, who knows the size: §4.7)
        ("cut inside a chunk", chunked[: 40 + 1040 + 10], "file-truncated"),
        ("an entry, not a file", good[:3] + b"\x11" + good[4:], "wrong-type"),
        ("shorter than an empty file's", good[:50], "file-truncated"),
    ]
    for name, data, code in cases:
        status, body = await upload(world, mum, booklet, data)
        assert (status, body.get("type"), body.get("protocol_error")) == (
            422, "protocol-rejected", code), (name, body)
    async with RawConnection.open(world.http.host, world.http.port) as conn:
        await conn.send(raw_head(booklet, mum.profile.token, 55))  # the head only
        assert (await conn.response(within=5)).json()["protocol_error"] == "file-truncated"
    assert await rows(world) == []
    assert await files(world) == []


async def test_the_booklet_quota_is_kept(
        world: World, family: tuple[Client, Client, str]) -> None:
    """Pending uploads count too; the one that would pass the quota is 413 with what is left,
    refused from its length before its body is read, and stores nothing."""
    _, mum, booklet = family
    for _ in range(QUOTA // BLOB):
        await uploaded(world, mum, booklet, os.urandom(FILE))
    before = (await rows(world), await files(world))
    status, body = await upload(world, mum, booklet, sealed(booklet, os.urandom(FILE)))
    assert status == 413
    assert body["type"] == "booklet-quota-exceeded"
    assert body["available_bytes"] == QUOTA - (QUOTA // BLOB) * BLOB
    assert (await rows(world), await files(world)) == before
    async with RawConnection.open(world.http.host, world.http.port) as conn:
        await conn.send(raw_head(booklet, mum.profile.token, MAX_BLOB))  # the head only
        assert (await conn.response(within=5)).json()["type"] == "booklet-quota-exceeded"


async def test_two_uploads_admitted_together_cannot_both_pass_the_quota(
        world: World, family: tuple[Client, Client, str]) -> None:
    """Both are admitted (each fits the room left when it asks), both bodies arrive; the quota
    is checked again when each is recorded, so the second is 413 and its file is gone."""
    _, mum, booklet = family
    await uploaded(world, mum, booklet, os.urandom(FILE))
    await uploaded(world, mum, booklet, os.urandom(FILE))  # room for one more, not two
    host, port = world.http.host, world.http.port
    async with RawConnection.open(host, port) as one, RawConnection.open(host, port) as two:
        for conn in (one, two):
            await conn.send(raw_head(booklet, mum.profile.token, BLOB,
                                     "Expect: 100-continue\r\n"))
            interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
            assert interim.startswith(b"HTTP/1.1 100 Continue")
        await one.send(sealed(booklet, os.urandom(FILE)))
        first = await one.response(within=5)
        await two.send(sealed(booklet, os.urandom(FILE)))
        second = await two.response(within=5)
    assert first.status == 201
    assert (second.status, second.json()["type"]) == (413, "booklet-quota-exceeded")
    assert len(await rows(world)) == 3
    assert len(await files(world)) == 3


async def test_entries_list_only_their_posters_pending_uploads(
        world: World, family: tuple[Client, Client, str]) -> None:
    """Unknown id, another booklet's blob, another member's upload, one listed twice in one
    entry, one another entry already lists, too many: each refused with its type, the entry
    not stored and the blobs as they were."""
    therapist, mum, booklet = family
    other = await therapist.create_booklet("Eero")
    elsewhere = await uploaded(world, therapist, other, b"muualla")
    theirs = await uploaded(world, therapist, booklet, b"terapeutin")
    mine = await uploaded(world, mum, booklet, b"oma")
    taken = await uploaded(world, mum, booklet, b"jo liitetty")
    extra = [await uploaded(world, mum, booklet, bytes([i])) for i in range(3)]
    await mum.post(booklet, "note", text="eka", blob_ids=[taken])
    head = (await world.raw("GET", f"/api/booklets/{booklet}/head", mum.profile.token))[1]
    before = await rows(world)
    cases = [
        ("unknown id", [os.urandom(16).hex()], 422, "blob-unknown"),
        ("another booklet's", [elsewhere], 422, "blob-unknown"),
        ("another member's", [theirs], 422, "blob-unknown"),
        ("attached already", [mine, taken], 409, "blob-already-attached"),
        ("twice in one list", [mine, mine], 422, "validation-failed"),
        ("too many", [mine, *extra], 422, "validation-failed"),
        ("not an id", ["x" * 32], 422, "validation-failed"),
    ]
    for name, ids, status, code in cases:
        with pytest.raises(ClientError) as refused:
            await mum.post(booklet, "note", text=name, blob_ids=ids)
        assert (refused.value.status, refused.value.code) == (status, code), name
    assert await rows(world) == before
    after = (await world.raw("GET", f"/api/booklets/{booklet}/head", mum.profile.token))[1]
    assert after == head
    status, body = await world.raw("POST", f"/api/booklets/{booklet}/entries", "bad-token",
                                   json={"envelope": "AQABEQ", "blob_ids": [mine, mine]})
    assert (status, body["type"]) == (401, "unauthorized")  # the token before the list


async def test_who_may_download(world: World, family: tuple[Client, Client, str]) -> None:
    """Every account against every blob: holders of the listing entry's key (and the uploader
    while pending) get the bytes; everyone else 404, whichever booklet the path names."""
    therapist, mum, booklet = family
    other_therapist = await world.therapist("toinen")
    other = await other_therapist.create_booklet("Eero")
    stranger = await world.family(other_therapist, other, "vieras")
    attached = await uploaded(world, mum, booklet, b"liitetty")
    await mum.post(booklet, "note", text="liite", blob_ids=[attached])
    pending = await uploaded(world, mum, booklet, b"odottaa")
    foreign = await uploaded(world, stranger, other, b"muualla")
    await stranger.post(other, "note", text="liite", blob_ids=[foreign])
    late = await world.family(therapist, booklet, "myohemmin", "caregiver", grant_title=False)
    left = await world.family(therapist, booklet, "lahtija")
    await left.remove(booklet, left.profile.account_id or "")
    allowed = {("aiti", attached), ("terapeutti", attached), ("aiti", pending),
               ("vieras", foreign), ("toinen", foreign)}
    people = {"aiti": mum, "terapeutti": therapist, "toinen": other_therapist,
              "vieras": stranger, "myohemmin": late, "lahtija": left}
    where = {attached: booklet, pending: booklet, foreign: other}
    for name, who in people.items():
        for blob, home in where.items():
            for path_booklet in {booklet, other}:
                status, body, _ = await download(world, who, path_booklet, blob)
                ok = (name, blob) in allowed and path_booklet == home
                assert status == (200 if ok else 404), (name, blob, path_booklet)
                if not ok:
                    assert b"not-found" in body


async def test_pending_uploads_expire_and_can_no_longer_be_listed(
        world: World, family: tuple[Client, Client, str], config: Config,
        clock: FixedClock) -> None:
    _, mum, booklet = family
    blobs = world.http.app[SERVICES].blobs
    kept = await uploaded(world, mum, booklet, b"liitetty")
    await mum.post(booklet, "note", text="liite", blob_ids=[kept])
    stale = await uploaded(world, mum, booklet, b"unohtunut")
    clock.advance(config.blobs.pending_minutes * 60 - 0.001)
    assert await blob_service.sweep_pending(blobs) == 0
    clock.advance(0.002)
    assert await blob_service.sweep_pending(blobs) == 1
    assert [r[0].hex() for r in await rows(world)] == [kept]
    assert await files(world) == [f"{booklet}/{kept}"]
    with pytest.raises(ClientError) as refused:
        await mum.post(booklet, "note", text="myöhässä", blob_ids=[stale])
    assert refused.value.code == "blob-unknown"


@pytest.mark.sqlite_only("the blob directory's files (PostgreSQL's orphans: "
                         "tests/storage/test_pg_blobs.py)")
async def test_start_up_removes_what_a_crash_left(
        world: World, family: tuple[Client, Client, str]) -> None:
    """A temp file, a file no row names (a crash between rename and commit) and a purged
    booklet's directory (its rows gone, its files not yet) go; blobs with rows stay."""
    _, mum, booklet = family
    kept = await uploaded(world, mum, booklet, b"pysyy")
    root = blob_dir(world)
    (root / "tmp" / "dead.part").write_bytes(b"half")
    (root / booklet / os.urandom(16).hex()).write_bytes(b"orphan")
    purged = root / os.urandom(16).hex()
    purged.mkdir()
    (purged / os.urandom(16).hex()).write_bytes(b"purged")
    assert await blob_service.start(world.http.app[SERVICES].blobs) == 2
    assert await files(world) == [f"{booklet}/{kept}"]
    assert not purged.exists()


async def test_a_purged_booklets_blobs_go_with_its_directory(
        world: World, family: tuple[Client, Client, str]) -> None:
    """The retention purge's hook (`delete_booklet`), after the purge deleted the rows: every
    file of that booklet and nothing of another; again, nothing (it is retried)."""
    therapist, mum, booklet = family
    other = await therapist.create_booklet("Eero")
    await uploaded(world, mum, booklet, b"yksi")
    await uploaded(world, mum, booklet, b"kaksi")
    kept = await uploaded(world, therapist, other, b"toinen")
    await world.server_sql("DELETE FROM blobs WHERE booklet_id = ?", bytes.fromhex(booklet))
    blobs = world.http.app[SERVICES].blobs
    assert await blob_service.delete_booklet(blobs, bytes.fromhex(booklet)) == 2
    assert await files(world) == [f"{other}/{kept}"]
    assert on_files(world) is False or not (blob_dir(world) / booklet).exists()
    assert await blob_service.delete_booklet(blobs, bytes.fromhex(booklet)) == 0


async def test_downloads_answer_ranges_and_conditional_requests_on_either_store(
        world: World, family: tuple[Client, Client, str]) -> None:
    """What a FileResponse gives a client (a file on SQLite) the parts streamed from the
    database give too (web/blob_response.py): a byte range as 206 with its Content-Range, the
    last bytes, 416 past the end, and 304 for the ETag the first answer gave."""
    therapist, mum, booklet = family
    data = sealed(booklet, os.urandom(5000))
    status, body = await upload(world, mum, booklet, data)
    assert status == 201
    blob = str(body["id"])
    await mum.post(booklet, "note", text="liite", blob_ids=[blob])
    url = f"/api/booklets/{booklet}/blobs/{blob}"
    auth = {"Authorization": f"Bearer {therapist.profile.token}"}
    async with world.http.get(url, headers=auth) as resp:
        assert (resp.status, await resp.read()) == (200, data)
        assert resp.headers["Accept-Ranges"] == "bytes"
        etag = resp.headers["ETag"]
    cases = [("bytes=10-99", 206, data[10:100], f"bytes 10-99/{len(data)}"),
             ("bytes=-5", 206, data[-5:], f"bytes {len(data) - 5}-{len(data) - 1}/{len(data)}"),
             (f"bytes={len(data) - 3}-", 206, data[-3:],
              f"bytes {len(data) - 3}-{len(data) - 1}/{len(data)}"),
             (f"bytes={len(data)}-", 416, b"", f"bytes */{len(data)}")]
    for asked, status, part, content_range in cases:
        async with world.http.get(url, headers={**auth, "Range": asked}) as resp:
            got = (resp.status, await resp.read(), resp.headers.get("Content-Range"))
        assert got == (status, part, content_range), asked
        if status == 206:
            assert resp.headers["Content-Type"] == "application/octet-stream"
            assert resp.headers["Content-Disposition"] == "attachment"
    async with world.http.get(url, headers={**auth, "If-None-Match": etag}) as resp:
        assert (resp.status, await resp.read()) == (304, b"")
