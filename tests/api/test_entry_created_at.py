"""An entry's created_at (the author's clock) is range-checked on post, so no stored entry can
make a later page read fail."""

from __future__ import annotations

import os
from typing import Any

from secure_msg.client import Client
from secure_msg.client.http import b64d, b64e
from secure_msg.crypto import envelope
from secure_msg.crypto.envelope import KIND_IDS
from secure_msg.services.entry_service import CREATED_AT_MAX_AHEAD_MS, CREATED_AT_MIN_MS

from .conftest import World


def _seal(author: Client, booklet: str, members: list[Client], head: dict[str, Any],
          created_at: int) -> bytes:
    assert author.keys
    assert all(m.keys for m in members)
    return envelope.seal_entry(
        author.keys, booklet_id=bytes.fromhex(booklet), entry_id=os.urandom(16),
        kind=KIND_IDS["note"], sequence=head["last_seq"] + 1, prev_hash=b64d(head["last_hash"]),
        created_at=created_at, plaintext=b'{"kind":"note","text":"x"}',
        recipients=[(m.keys.account_id, m.keys.encryption_public) for m in members if m.keys],
    )


async def test_created_at_out_of_range_is_422_and_stores_nothing(world: World) -> None:
    """Years 10000 and beyond (up to the u64 maximum), before 2020 and over a day ahead of the
    server are each a validation problem with nothing stored; the edges are accepted and read
    back."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    token = mum.profile.token
    path = f"/api/booklets/{booklet}/entries"
    now = world.clock.now_ms()
    _, head = await world.raw("GET", f"/api/booklets/{booklet}/head", token)
    _, page = await world.raw("GET", path, token)
    for created_at in (253_402_300_800_000, 2**63 - 1, 2**64 - 1, 1, CREATED_AT_MIN_MS - 1,
                       now + CREATED_AT_MAX_AHEAD_MS + 1):
        sealed = _seal(mum, booklet, [therapist, mum], head, created_at)
        async with world.http.post(path, json={"envelope": b64e(sealed)},
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
            assert (created_at, resp.status) == (created_at, 422)
            assert resp.content_type == "application/problem+json"
            body = await resp.json(content_type=None)
        assert body["type"] == "validation-failed"
        assert body["errors"] == [{"field": "created_at"}]
        assert (await world.raw("GET", f"/api/booklets/{booklet}/head", token))[1] == head
        assert (await world.raw("GET", path, token))[1] == page
    for created_at in (CREATED_AT_MIN_MS, now + CREATED_AT_MAX_AHEAD_MS):
        sealed = _seal(mum, booklet, [therapist, mum], head, created_at)
        status, _ = await world.raw("POST", path, token, json={"envelope": b64e(sealed)})
        assert status == 201
        _, head = await world.raw("GET", f"/api/booklets/{booklet}/head", token)
    status, page = await world.raw("GET", path, token)
    assert status == 200
    assert [e["created_at"] for e in page["entries"][-2:]] == [
        "2020-01-01T00:00:00.000+00:00", "2026-01-02T00:00:00.000+00:00"]


async def test_a_stored_created_at_beyond_year_9999_still_reads(world: World) -> None:
    """An entry stored before the check, dated at the int64 maximum and with no stored JSON
    text, reads back as a page (clamped to the last millisecond of 9999), not a 500."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    await world.server_sql("UPDATE entries SET created_at_ms = ?, json = NULL", 2**63 - 1)
    status, page = await world.raw("GET", f"/api/booklets/{booklet}/entries",
                                   therapist.profile.token)
    assert status == 200
    assert page["entries"][0]["created_at"] == "9999-12-31T23:59:59.999+00:00"
