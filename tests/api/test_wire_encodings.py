"""The encodings docs/protocol.md §2 states, as the server reads them: bytes are unpadded
base64url and nothing else, ids 32 lowercase hex digits."""

from __future__ import annotations

import pytest

from secure_msg.client.http import b64e

from .conftest import World

KEY = bytes(range(32))  # 32 bytes whose base64url needs padding and uses - and _ nowhere


@pytest.mark.parametrize("text", [
    b64e(KEY) + "=",  # padded
    b64e(KEY).replace("A", "+", 1), b64e(KEY)[:-1] + "/",  # the standard alphabet
    b64e(KEY)[:20] + " " + b64e(KEY)[20:],  # whitespace
    b64e(KEY) + "AA",  # 45 characters: one more than a multiple of 4
])
async def test_bytes_in_any_other_spelling_are_422(world: World, text: str) -> None:
    status, body = await world.raw("POST", "/api/login", json={"login": "x", "auth_key": text})
    assert (status, body["type"], body["errors"]) == (
        422, "validation-failed", [{"field": "auth_key", "problem": "not valid base64url"}])


async def test_unpadded_base64url_is_read(world: World) -> None:
    """The same key unpadded gets past parsing: an unknown login is 401, not 422."""
    status, body = await world.raw("POST", "/api/login",
                                   json={"login": "x", "auth_key": b64e(KEY)})
    assert (status, body["type"]) == (401, "invalid-credentials")


async def test_an_id_in_a_path_is_lowercase_hex_or_not_found(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    token = therapist.profile.token
    assert (await world.raw("GET", f"/api/booklets/{booklet}/head", token))[0] == 200
    for other in (booklet.upper(), booklet[:-1], b64e(bytes.fromhex(booklet))):
        status, body = await world.raw("GET", f"/api/booklets/{other}/head", token)
        assert (status, body["type"]) == (404, "not-found")
