"""GET/PUT /api/me/state (docs/protocol.md §6.5): the server stores each account's sealed client
state by compare-and-swap and checks only what it can see, the blob's header."""

from __future__ import annotations

import json
import logging
import os
import struct
from typing import Any

import pytest

from secure_msg.client import Client
from secure_msg.client.http import b64d, b64e
from secure_msg.logging import JsonFormatter
from secure_msg.web.services import SERVICES

from .conftest import World

LIMIT = 1_048_576  # limits.client_state_bytes, the default


def blob(account_id: str, version: int, ct_len: int = 48, *, kind: int = 0x40) -> bytes:
    """A sealed-state layout with random ciphertext: all the server can look at."""
    return (bytes([1, 0, 1, kind]) + bytes.fromhex(account_id) + struct.pack(">Q", version)
            + os.urandom(12) + struct.pack(">I", ct_len) + os.urandom(ct_len))


async def _get(world: World, who: Client) -> tuple[int, Any]:
    return await world.raw("GET", "/api/me/state", who.profile.token)


async def _put(world: World, who: Client, base: int, version: int, state: bytes | str
               ) -> tuple[int, Any]:
    text = state if isinstance(state, str) else b64e(state)
    return await world.raw("PUT", "/api/me/state", who.profile.token,
                           json={"base_version": base, "version": version, "state": text})


async def _stored(world: World, who: Client) -> tuple[int, bytes | None]:
    status, body = await _get(world, who)
    assert status == 200
    return body["version"], b64d(body["state"]) if body["state"] is not None else None


async def _in_db(world: World) -> list[tuple[bytes, int, bytes]]:
    db = world.http.app[SERVICES].db
    rows = await db.read(lambda c: c.execute(
        "SELECT account_id, version, blob FROM client_state ORDER BY account_id").fetchall())
    return [(bytes(a), int(v), bytes(b)) for a, v, b in rows]


async def _audit_count(world: World) -> int:
    db = world.http.app[SERVICES].db
    row = await db.read(lambda c: c.execute("SELECT COUNT(*) FROM audit_events").fetchone())
    return int(row[0])


async def test_nothing_stored_reads_as_version_zero(world: World) -> None:
    """An account that never stored a state gets version 0 and a null state."""
    therapist = await world.therapist()
    assert await _get(world, therapist) == (200, {"version": 0, "state": None})


async def test_put_then_get_returns_the_same_bytes(world: World) -> None:
    """A state stored over version 0, then over 1, reads back byte for byte; no audit event
    is written for it."""
    therapist = await world.therapist()
    me = therapist.profile.account_id
    audited = await _audit_count(world)
    first, second = blob(me, 1), blob(me, 2, 500)
    assert await _put(world, therapist, 0, 1, first) == (200, {"version": 1})
    assert await _stored(world, therapist) == (1, first)
    assert await _put(world, therapist, 1, 2, second) == (200, {"version": 2})
    assert await _stored(world, therapist) == (2, second)
    assert await _audit_count(world) == audited


async def test_a_stale_base_version_is_409_with_the_current_version(world: World) -> None:
    """A writer that merged with version 1 after another wrote 2 gets 409
    state-version-conflict naming 2, and the stored state stays as it was."""
    therapist = await world.therapist()
    me = therapist.profile.account_id
    await _put(world, therapist, 0, 1, blob(me, 1))
    winner = blob(me, 2)
    await _put(world, therapist, 1, 2, winner)
    for base, version in ((1, 2), (1, 3), (0, 1), (3, 4)):
        status, body = await _put(world, therapist, base, version, blob(me, version))
        assert (status, body["type"], body["current_version"]) == \
            (409, "state-version-conflict", 2)
    assert await _stored(world, therapist) == (2, winner)


@pytest.mark.parametrize(("base", "version", "header_version"),
                         [(1, 1, 1), (2, 1, 1), (0, 0, 0), (1, 3, 2), (1, 2, 3)])
async def test_a_version_not_above_base_or_not_the_blobs_own_is_422(
        world: World, base: int, version: int, header_version: int) -> None:
    """`version` must be above `base_version` and equal the blob's own version: 422
    validation-failed naming `version`, nothing stored."""
    therapist = await world.therapist()
    me = therapist.profile.account_id
    kept = blob(me, 1)
    await _put(world, therapist, 0, 1, kept)
    status, body = await _put(world, therapist, base, version, blob(me, header_version))
    assert (status, body["type"]) == (422, "validation-failed")
    assert body["errors"][0]["field"] == "version"
    assert await _stored(world, therapist) == (1, kept)


async def test_a_blob_naming_another_account_is_422(world: World) -> None:
    """A state whose header names another account is refused (protocol-rejected,
    account-mismatch) and stored for no one."""
    therapist = await world.therapist()
    other = await world.therapist("toinen")
    status, body = await _put(world, therapist, 0, 1, blob(other.profile.account_id, 1))
    assert (status, body["type"], body["protocol_error"]) == \
        (422, "protocol-rejected", "account-mismatch")
    assert await _stored(world, therapist) == (0, None)
    assert await _stored(world, other) == (0, None)


@pytest.mark.parametrize(("make", "code"), [
    (lambda me: blob(me, 1)[:43], "truncated"),
    (lambda me: blob(me, 1) + b"\0", "trailing-data"),
    (lambda me: blob(me, 1, kind=0x03), "wrong-type"),
    (lambda me: b"\x02" + blob(me, 1)[1:], "unsupported-version"),
    (lambda me: blob(me, 1, ct_len=15), "malformed"),
    (lambda me: blob(me, 2**53), "malformed"),  # JSON numbers are exact only below 2^53
    (lambda me: b"", "truncated"),
])
async def test_a_header_that_does_not_parse_is_422(world: World, make: Any, code: str) -> None:
    """The blob's layout is checked (§2, §6.5): each failure is protocol-rejected with its
    code, and nothing is stored."""
    therapist = await world.therapist()
    status, body = await _put(world, therapist, 0, 1, make(therapist.profile.account_id))
    assert (status, body["type"], body["protocol_error"]) == (422, "protocol-rejected", code)
    assert await _stored(world, therapist) == (0, None)


async def test_a_state_over_the_limit_is_413(world: World) -> None:
    """A blob of limits.client_state_bytes is stored; one byte more is 413 and not stored."""
    therapist = await world.therapist()
    me = therapist.profile.account_id
    header = 44
    status, body = await _put(world, therapist, 0, 1, blob(me, 1, LIMIT - header + 1))
    assert (status, body["type"]) == (413, "payload-too-large")
    assert await _stored(world, therapist) == (0, None)
    largest = blob(me, 1, LIMIT - header)
    assert (await _put(world, therapist, 0, 1, largest))[0] == 200
    assert await _stored(world, therapist) == (1, largest)


async def test_malformed_requests_get_the_usual_problems(world: World) -> None:
    """Broken JSON is 400 invalid-json, bad base64url or a missing field 422 naming it, a
    wrong content type 415; nothing is stored by any of them."""
    therapist = await world.therapist()
    token = therapist.profile.token
    me = therapist.profile.account_id
    good = b64e(blob(me, 1))
    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}},
         400, "invalid-json", None),
        ({"json": [1, 2]}, 400, "invalid-json", None),
        ({"json": {"base_version": 0, "version": 1, "state": good[:-1] + "!"}},
         422, "validation-failed", "state"),
        ({"json": {"base_version": 0, "version": 1, "state": good + "="}},
         422, "validation-failed", "state"),
        ({"json": {"base_version": 0, "version": 1}}, 422, "validation-failed", "state"),
        ({"json": {"base_version": "0", "version": 1, "state": good}},
         422, "validation-failed", "base_version"),
        ({"json": {"base_version": 0, "version": True, "state": good}},
         422, "validation-failed", "version"),
        ({"json": {"base_version": -1, "version": 1, "state": good}},
         422, "validation-failed", "base_version"),
        ({"json": {"base_version": 0, "version": 2**53, "state": good}},
         422, "validation-failed", "version"),
        ({"data": b"x", "headers": {"Content-Type": "text/plain"}},
         415, "unsupported-media-type", None),
    ]
    for kwargs, status, code, field in cases:
        got, body = await world.raw("PUT", "/api/me/state", token, **kwargs)
        assert (got, body["type"]) == (status, code), kwargs
        if field is not None:
            assert body["errors"][0]["field"] == field
        assert good not in json.dumps(body)  # a problem never echoes the value
    assert await _stored(world, therapist) == (0, None)


async def test_no_session_is_401(world: World) -> None:
    """Without a token, with an unknown one or a logged-out one, neither reading nor writing
    is possible, and the stored state stays."""
    therapist = await world.therapist()
    me = therapist.profile.account_id
    first = blob(me, 1)
    await _put(world, therapist, 0, 1, first)
    body = {"base_version": 1, "version": 2, "state": b64e(blob(me, 2))}
    old_token = therapist.profile.token
    await therapist.logout()
    for token in (None, "not-a-token", old_token):
        assert (await world.raw("GET", "/api/me/state", token))[0] == 401
        status, problem = await world.raw("PUT", "/api/me/state", token, json=body)
        assert (status, problem["type"]) == (401, "unauthorized")
    assert await _in_db(world) == [(bytes.fromhex(me), 1, first)]


async def test_each_account_reads_and_writes_only_its_own(world: World) -> None:
    """There is no route with an account id: B's token reads B's state, never A's, and B
    cannot write over A's (a blob naming A is refused)."""
    a = await world.therapist("terapeutti-a")
    b = await world.therapist("terapeutti-b")
    a_state, b_state = blob(a.profile.account_id, 1), blob(b.profile.account_id, 1)
    await _put(world, a, 0, 1, a_state)
    assert await _stored(world, b) == (0, None)
    await _put(world, b, 0, 1, b_state)
    assert await _stored(world, b) == (1, b_state)
    status, _ = await _put(world, b, 1, 2, blob(a.profile.account_id, 2))
    assert status == 422
    assert await _stored(world, a) == (1, a_state)
    assert await _stored(world, b) == (1, b_state)


async def test_the_request_log_never_carries_the_state(world: World,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Writing and reading a state logs the route and status only, never the blob."""
    therapist = await world.therapist()
    state = blob(therapist.profile.account_id, 1)
    with caplog.at_level(logging.DEBUG):
        await _put(world, therapist, 0, 1, state)
        await _put(world, therapist, 0, 1, state)  # a 409 too
        await _get(world, therapist)
    output = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert '"route": "/api/me/state"' in output or '"route":"/api/me/state"' in output
    assert b64e(state) not in output
    assert b64e(state)[:40] not in output
