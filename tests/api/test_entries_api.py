"""Posting entries: every bad envelope or request is a clear problem+json and changes nothing."""

from __future__ import annotations

import functools
import json
import os
import threading
from typing import Any

import pytest

from secure_msg.client import Client
from secure_msg.client.http import b64d, b64e
from secure_msg.crypto import envelope, keys, labels
from secure_msg.crypto.envelope import KIND_IDS
from secure_msg.crypto.primitives import sign
from secure_msg.services.entry_service import CREATED_AT_MIN_MS
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklets as booklet_store
from secure_msg.web.context import CONFIG
from secure_msg.web.services import SERVICES

from .conftest import World

PROBLEM_KEYS = {"type", "title", "status"}


async def _state(world: World, c: Client, booklet: str) -> tuple[int, Any, int]:
    status, head = await world.raw("GET", f"/api/booklets/{booklet}/head", c.profile.token)
    assert status == 200
    _, entries = await world.raw("GET", f"/api/booklets/{booklet}/entries", c.profile.token)
    return head["last_seq"], head["last_hash"], len(entries["entries"])


def _seal(author: keys.AccountKeys, booklet: str, members: list[Client], *, seq: int,
          prev: bytes, author_id: bytes | None = None, kind: str = "note",
          entry_id: bytes | None = None, plaintext: bytes = b'{"kind":"note","text":"x"}'
          ) -> bytes:
    signer = author if author_id is None else keys.AccountKeys.from_secrets(
        author_id, author.identity_seed, author.encryption_secret)
    assert all(m.keys for m in members)
    return envelope.seal_entry(
        signer, booklet_id=bytes.fromhex(booklet), entry_id=entry_id or os.urandom(16),
        kind=KIND_IDS[kind], sequence=seq, prev_hash=prev, created_at=CREATED_AT_MIN_MS,
        plaintext=plaintext,
        recipients=[(m.keys.account_id, m.keys.encryption_public) for m in members if m.keys],
    )


def _retired_type(sealed: bytes, author: keys.AccountKeys) -> bytes:
    """The entry in the retired type 0x10 layout (no key commitment), validly re-signed."""
    unsigned = sealed[:-64]
    unsigned = unsigned[:3] + b"\x10" + unsigned[4:113] + unsigned[145:]
    return unsigned + sign(author.identity, labels.ENTRY_SIGNATURE, unsigned)


@pytest.fixture
async def family(world: World) -> tuple[Client, Client, Client, str]:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    dad = await world.family(therapist, booklet, "isa")
    return therapist, mum, dad, booklet


async def _post(world: World, c: Client, booklet: str, sealed: bytes) -> tuple[int, Any]:
    return await world.raw("POST", f"/api/booklets/{booklet}/entries", c.profile.token,
                           json={"envelope": b64e(sealed)})


async def test_bad_envelopes_are_refused_and_change_nothing(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """Forged signature, wrong author, wrong recipients, unknown version/suite, an entry without
    key commitment, stale sequence, wrong previous hash and a duplicate entry id: each a
    problem+json, none stored."""
    therapist, mum, dad, booklet = family
    assert therapist.keys
    assert mum.keys
    assert dad.keys
    before = await _state(world, mum, booklet)
    seq, prev = before[0] + 1, b64d(before[1])
    everyone = [therapist, mum, dad]
    good = _seal(mum.keys, booklet, everyone, seq=seq, prev=prev)
    forged = good[:-1] + bytes([good[-1] ^ 1])
    bad_version = b"\x02" + good[1:]
    bad_suite = good[:1] + b"\x00\x02" + good[3:]
    posted = _seal(mum.keys, booklet, everyone, seq=seq, prev=prev)
    cases: list[tuple[str, bytes, int, str, str | None]] = [
        ("forged signature", forged, 422, "protocol-rejected", "bad-signature"),
        ("someone else's key", _seal(dad.keys, booklet, everyone, seq=seq, prev=prev,
                                     author_id=mum.keys.account_id),
         422, "protocol-rejected", "bad-signature"),
        ("author is not me", _seal(mum.keys, booklet, everyone, seq=seq, prev=prev,
                                   author_id=therapist.keys.account_id),
         422, "protocol-rejected", "wrong-author"),
        ("missing a member", _seal(mum.keys, booklet, [therapist, mum], seq=seq, prev=prev),
         422, "protocol-rejected", "recipient-set-mismatch"),
        ("unknown version", bad_version, 422, "protocol-rejected", "unsupported-version"),
        ("unknown suite", bad_suite, 422, "protocol-rejected", "unsupported-suite"),
        ("no key commitment (type 0x10)", _retired_type(good, mum.keys),
         422, "protocol-rejected", "wrong-type"),
        ("stale sequence", _seal(mum.keys, booklet, everyone, seq=seq - 1, prev=prev),
         409, "sequence-conflict", None),
        ("wrong previous hash", _seal(mum.keys, booklet, everyone, seq=seq, prev=bytes(32)),
         409, "sequence-conflict", None),
        ("therapist-only kind", _seal(mum.keys, booklet, everyone, seq=seq, prev=prev,
                                      kind="homework", plaintext=b"{}"),
         403, "forbidden", None),
    ]
    for name, sealed, status, code, protocol_error in cases:
        got_status, body = await _post(world, mum, booklet, sealed)
        assert (name, got_status, body["type"]) == (name, status, code)
        assert body.keys() >= PROBLEM_KEYS
        assert body.get("protocol_error") == protocol_error, name
        assert await _state(world, mum, booklet) == before, name
    # A duplicate entry id: the first post lands, the same id again is refused.
    status, _ = await _post(world, mum, booklet, posted)
    assert status == 201
    after_first = await _state(world, mum, booklet)
    dup = _seal(mum.keys, booklet, everyone, seq=seq + 1, prev=b64d(after_first[1]),
                entry_id=envelope.parse_envelope(posted).header.entry_id)
    status, body = await _post(world, mum, booklet, dup)
    assert (status, body["type"]) == (409, "duplicate-entry")
    assert await _state(world, mum, booklet) == after_first


async def test_recipient_set_including_a_non_member_is_refused(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """Wrapping to someone outside the booklet is refused: the server checks the exact set."""
    therapist, mum, dad, booklet = family
    outsider = await world.therapist("toinen")
    assert mum.keys
    before = await _state(world, mum, booklet)
    sealed = _seal(mum.keys, booklet, [therapist, mum, dad, outsider], seq=before[0] + 1,
                   prev=b64d(before[1]))
    status, body = await _post(world, mum, booklet, sealed)
    assert (status, body["protocol_error"]) == (422, "recipient-set-mismatch")
    assert await _state(world, mum, booklet) == before


async def test_malformed_requests_are_problems_not_500s(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """Malformed JSON, bad base64, wrong content type, unknown booklet, malformed id,
    an oversized entry and an oversized body each get their own 4xx problem."""
    _, mum, _, booklet = family
    token = mum.profile.token
    path = f"/api/booklets/{booklet}/entries"
    before = await _state(world, mum, booklet)
    cfg_max = world.http.app[CONFIG].limits.max_entry_bytes
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("malformed json", {"data": b"{not json", "headers": {"Content-Type":
                                                                "application/json"}},
         400, "invalid-json"),
        ("not an object", {"json": ["envelope"]}, 400, "invalid-json"),
        ("bad base64", {"json": {"envelope": "***"}}, 422, "validation-failed"),
        ("missing field", {"json": {}}, 422, "validation-failed"),
        ("wrong type", {"data": b"x", "headers": {"Content-Type": "text/plain"}}, 415,
         "unsupported-media-type"),
        ("oversized entry", {"json": {"envelope": b64e(b"\x01" * (cfg_max + 1))}}, 413,
         "payload-too-large"),
        # Within the request limit but far over the entry limit: 413 too (it was 422 once
        # the text passed the old reader's cap; the size is the service's one rule now).
        ("far oversized entry", {"json": {"envelope": b64e(b"\x01" * (cfg_max * 3 // 2))}},
         413, "payload-too-large"),
        ("oversized body", {"json": {"envelope": "A" * (3 * cfg_max)}}, 413,
         "payload-too-large"),
    ]
    for name, kwargs, status, code in cases:
        got, body = await world.raw("POST", path, token, **kwargs)
        assert (name, got, body["type"]) == (name, status, code)
    for url, status in [(f"/api/booklets/{'0' * 32}/entries", 404),
                        ("/api/booklets/not-hex/entries", 404)]:
        got, body = await world.raw("POST", url, token, json={"envelope": "AAAA"})
        assert (got, body["type"]) == (status, "not-found")
    got, body = await world.raw("GET", f"{path}?limit=100000", token)
    assert (got, body["type"]) == (422, "validation-failed")
    assert await _state(world, mum, booklet) == before


async def test_non_member_session_and_stolen_token(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """A valid session of a non-member sees nothing (404 everywhere); a stolen bearer token
    without the keys cannot post (its signature does not verify under the victim's key)."""
    therapist, mum, dad, booklet = family
    outsider = await world.therapist("ulkopuolinen")
    for method, suffix in [("GET", "/entries"), ("GET", "/members"), ("GET", "/head"),
                           ("GET", "/receipts"), ("GET", "/grants"), ("POST", "/entries")]:
        status, body = await world.raw(method, f"/api/booklets/{booklet}{suffix}",
                                       outsider.profile.token, json={"envelope": "AAAA"})
        assert (suffix, status, body["type"]) == (suffix, 404, "not-found")
    assert await outsider.booklets() == []
    # The thief has mum's token but only their own keys.
    thief = keys.AccountKeys.generate(bytes.fromhex(mum.profile.account_id))
    before = await _state(world, mum, booklet)
    sealed = _seal(thief, booklet, [therapist, mum, dad], seq=before[0] + 1,
                   prev=b64d(before[1]))
    status, body = await _post(world, mum, booklet, sealed)
    assert (status, body["protocol_error"]) == (422, "bad-signature")
    assert await _state(world, mum, booklet) == before


async def test_refusals_are_audited(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """A refused envelope leaves an audit event naming the protocol error, and the chain holds."""
    _, mum, _, booklet = family
    status, _ = await _post(world, mum, booklet, b"\x01\x00\x01\x11" + b"\x00" * 10)
    assert status == 422
    db = world.http.app[SERVICES].db
    events = await db.read(functools.partial(audit_store.latest_events_txn, limit=5))
    refused = [e for e in events if e.action == "entry.refused"]
    assert [e.detail["protocol_error"] for e in refused] == ["truncated"]
    assert (await audit_store.verify(db)).ok


async def test_reading_a_page_is_audited(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """Every page read leaves an entries.fetched event (batched, on disk after a flush)."""
    therapist, mum, _, booklet = family
    await therapist.post(booklet, "note", text="x")
    status, page = await world.raw("GET", f"/api/booklets/{booklet}/entries", mum.profile.token)
    assert status == 200
    await world.http.app[SERVICES].entries.fetch_audit.flush()
    db = world.http.app[SERVICES].db
    events = await db.read(functools.partial(audit_store.latest_events_txn, limit=20))
    assert mum.keys is not None
    mums = [e for e in events if e.actor == f"account:{mum.keys.account_id.hex()}"]
    assert [(e.action, e.target, e.detail.get("count")) for e in mums][-1:] == [
        ("entries.fetched", f"booklet:{booklet}", len(page["entries"]))]
    assert (await audit_store.verify(db)).ok


async def test_a_page_is_the_same_from_stored_texts_and_from_columns(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """Entries stored without their JSON text (before schema 0005) read back exactly as those
    stored with it, in the same order, mixed in one page."""
    therapist, mum, _, booklet = family
    for n in range(4):
        await therapist.post(booklet, "note", text=f"n{n}")
    path = f"/api/booklets/{booklet}/entries"
    status, stored = await world.raw("GET", path, mum.profile.token)
    assert status == 200
    assert len(stored["entries"]) == 5  # the title and four notes
    await world.server_sql("UPDATE entries SET json = NULL WHERE seq % 2 = 0")
    _, mixed = await world.raw("GET", path, mum.profile.token)
    assert mixed == stored
    _, newest = await world.raw("GET", path + "?before=100&limit=3", mum.profile.token)
    assert newest["entries"] == stored["entries"][-3:]
    _, middle = await world.raw("GET", path + "?since=1&limit=2", mum.profile.token)
    assert middle["entries"] == stored["entries"][1:3]


@pytest.mark.parametrize(("column", "lie"), [
    ("kind", 6), ("seq", 99), ("created_at", "2030-01-01T00:00:00.000Z"),
    ("entry_id", "00" * 16),
])
async def test_the_client_refuses_a_listing_that_disagrees_with_the_signed_entry(
    world: World, family: tuple[Client, Client, Client, str], column: str, lie: Any
) -> None:
    """A server that relabels a note as a notice, renumbers it, moves its date or swaps its id
    in the plain JSON gets a protocol error from the client, not a mislabelled entry."""
    therapist, mum, _, booklet = family
    await therapist.post(booklet, "note", text="hei")
    db = world.http.app[SERVICES].db
    text = await db.read(lambda t: t.execute("SELECT json FROM entries WHERE seq = 2")
                         .fetchone()[0])
    await world.server_sql("UPDATE entries SET json = ? WHERE seq = 2",
                           json.dumps({**json.loads(text), column: lie}))
    shown = await mum.read(booklet)
    assert [e.error for e in shown] == [None, "protocol/malformed"]
    assert shown[1].payload == {}
    assert shown[1].kind == ""


async def test_the_client_refuses_a_notice_signed_by_a_parent(
    world: World, family: tuple[Client, Client, Client, str]
) -> None:
    """A system notice (like a title or homework) counts only from the booklet's therapist: one
    signed by a parent, which a server let in, is a protocol error for the reader."""
    therapist, mum, _, booklet = family
    promote = "UPDATE members SET role = ? WHERE booklet_id = ? AND account_id = ?"
    who = (bytes.fromhex(booklet), bytes.fromhex(mum.profile.account_id))
    await world.server_sql(promote, "therapist", *who)  # a server that lies about roles
    await mum.post(booklet, "system", text="Vastaanotto on muuttanut: kirjaudu osoitteessa …")
    await world.server_sql(promote, "guardian", *who)
    shown = await therapist.read(booklet)
    assert shown[-1].error == "protocol/wrong-author"
    assert all(e.error is None for e in shown[:-1])


@pytest.mark.sqlite_only("SQLite's loop-side reader; PostgreSQL reads in a reader thread")
async def test_a_page_is_read_on_the_event_loop_not_in_a_reader_thread(
    world: World, family: tuple[Client, Client, Client, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's query runs on the loop's own connection: the reader-thread round trip cost
    more than the query (docs/performance.md, "Reading")."""
    _, mum, _, booklet = family
    threads: list[int] = []
    real = booklet_store.entry_texts_for_txn

    def recording(*args: Any, **kwargs: Any) -> list[tuple[int, str | None]]:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(booklet_store, "entry_texts_for_txn", recording)
    for query in ("", "?limit=200", "?before=100&limit=50"):
        status, _ = await world.raw("GET", f"/api/booklets/{booklet}/entries{query}",
                                    mum.profile.token)
        assert status == 200
    assert threads == [threading.get_ident()] * 3
