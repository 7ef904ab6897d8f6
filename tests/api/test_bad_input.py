"""Every bad input is a 4xx problem+json and changes nothing; none is a 500 with a traceback
(issue 14, defect 3): bytes that are no token, JSON the parser takes but the service cannot use,
and bodies Twilio would never send."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import WSMsgType

from secure_msg.client.http import b64e
from secure_msg.testing import raw_http
from secure_msg.web.openapi import API_REGISTRY
from secure_msg.web.services import SERVICES
from secure_msg.web.webhooks_twilio import GATHER_PATH, SMS_PATH, VOICE_PATH

from .conftest import PASSWORD, World

SURROGATE = "ab\ud800cd"  # valid JSON ("ab\\ud800cd"), but no UTF-8 text
WEBHOOKS = ("/webhooks/twilio/status", SMS_PATH, VOICE_PATH, GATHER_PATH)


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The test fails if anything logged an ERROR (a 500's traceback does)."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0" * 32, path)


async def _raw(world: World, head: bytes, body: bytes = b"") -> raw_http.RawResponse:
    server = world.http.server
    return await raw_http.request(str(server.host), int(server.port or 0), head + body)


async def _table_counts(world: World) -> dict[str, int]:
    tables = ("accounts", "sessions", "invitations", "members", "audit_events", "notices")

    def read(conn: Any) -> dict[str, int]:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in tables}

    return await world.http.app[SERVICES].db.read(read)


@pytest.mark.usefixtures("no_errors_logged")
async def test_a_bearer_token_that_is_not_ascii_is_401_on_every_bearer_route(
    world: World,
) -> None:
    """A latin-1 byte (raw, as no client library would send it) or UTF-8 text in
    `Authorization: Bearer …` is no token: 401 problem+json on each bearer route."""
    operations = [op for op in world.http.app[API_REGISTRY].operations if op.auth]
    assert len(operations) >= 25
    for op in operations:
        for token in (b"\xe9\xe9abc", "tökén".encode()):
            head = (f"{op.method} {_filled(op.path)} HTTP/1.1\r\nHost: x\r\n"
                    "Connection: close\r\nContent-Length: 0\r\n").encode()
            response = await _raw(world, head + b"Authorization: Bearer " + token + b"\r\n\r\n")
            assert response.status == 401, (op.method, op.path, response.body)
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert response.json()["type"] == "unauthorized"


@pytest.mark.usefixtures("no_errors_logged")
async def test_a_live_socket_whose_first_message_is_no_token_is_refused(world: World) -> None:
    """Non-ASCII text, JSON nested past the parser's limit or a non-object as the WebSocket's
    first message: the socket is told "unauthorized" and closed with 4401."""
    for first in (json.dumps({"token": "tökén"}), "[" * 2000 + "]" * 2000, "[1]"):
        async with world.http.ws_connect("/api/live") as ws:
            await ws.send_str(first)
            message = await ws.receive(timeout=5)
            assert message.type is WSMsgType.TEXT
            assert json.loads(message.data) == {"type": "error", "error": "unauthorized"}
            assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE
            assert ws.close_code == 4401


def _json(text: str) -> dict[str, Any]:
    return {"data": text.encode(), "headers": {"Content-Type": "application/json"}}


@pytest.mark.usefixtures("no_errors_logged")
async def test_lone_surrogates_are_422_naming_the_field_and_change_nothing(world: World) -> None:
    """Login, prelogin, recovery, enrollment and invitation fields with a lone surrogate are
    422 validation-failed naming the field; no account, session, invitation or audit row."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    link = await world.staff_link()
    token = link.rsplit("/", 1)[1]
    key = b64e(b"k" * 32)
    cases = [
        ("/api/prelogin", {"login": SURROGATE}, "login"),
        ("/api/login", {"login": SURROGATE, "auth_key": key}, "login"),
        ("/api/recovery/bundle", {"login": SURROGATE, "recovery_auth_key": key}, "login"),
        ("/api/recovery/reset", {"login": "x", "recovery_auth_key": key, "extra": [SURROGATE]},
         "extra[0]"),
        (f"/api/enroll/{token}", {"login": SURROGATE, "key_statement": key}, "login"),
        (f"/api/booklets/{booklet}/invitations", {"role": "guardian", "name": SURROGATE},
         "name"),
        (f"/api/booklets/{booklet}/invitations", {"role": "guardian", SURROGATE: 1},
         "ab\\ud800cd"),
    ]
    before = await _table_counts(world)
    for path, body, field in cases:
        text = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape \ud800
        status, problem = await world.raw("POST", path, therapist.profile.token, **_json(text))
        assert (status, problem["type"]) == (422, "validation-failed"), (path, problem)
        assert problem["errors"][0]["field"] == field
        assert "\ud800" not in problem["detail"]
    assert await _table_counts(world) == before
    await world.new_client().enroll(link, "uusi", PASSWORD)  # the invitation is still usable


@pytest.mark.usefixtures("no_errors_logged")
async def test_json_too_deep_or_with_a_huge_integer_is_400_invalid_json(world: World) -> None:
    """100,000 levels (the parser's RecursionError), 33 levels inside a field (our limit) and a
    5,000-digit integer (Python's int-string limit): 400 invalid-json, nothing changed."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    before = await _table_counts(world)
    bodies = [
        "[" * 100_000 + "]" * 100_000,
        '{"role": "guardian", "name": "x", "extra": ' + "[" * 32 + "]" * 32 + "}",
        '{"role": "guardian", "name": ' + "9" * 5000 + "}",
    ]
    for text in bodies:
        for path in ("/api/prelogin", f"/api/booklets/{booklet}/invitations"):
            status, problem = await world.raw("POST", path, therapist.profile.token,
                                              **_json(text))
            assert (status, problem["type"]) == (400, "invalid-json"), (path, problem)
    assert await _table_counts(world) == before


@pytest.mark.usefixtures("no_errors_logged")
async def test_webhooks_refuse_bodies_twilio_never_sends_before_parsing_them(
    world: World,
) -> None:
    """multipart/form-data (with or without a boundary), a charset that does not exist: 415;
    url-encoded bytes that are not UTF-8: 400. On all four webhook routes, nothing changed."""
    before = await _table_counts(world)
    part = (b'--xx\r\nContent-Disposition: form-data; name="From"\r\n\r\n\xe9\xff\r\n--xx--\r\n')
    cases = [
        (b"multipart/form-data", b"From=%2B358401234567", 415),
        (b"multipart/form-data; boundary=xx", part, 415),
        (b"multipart/form-data; boundary=xx", b"garbage", 415),
        (b"application/x-www-form-urlencoded; charset=foo", b"From=x", 415),
        (b"application/x-www-form-urlencoded", b"From=\xe9\xff", 400),
    ]
    for path in WEBHOOKS:
        for content_type, body, status in cases:
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    f"Content-Length: {len(body)}\r\n").encode()
            response = await _raw(world, head + b"Content-Type: " + content_type + b"\r\n\r\n",
                                  body)
            assert response.status == status, (path, content_type, response.body)
            assert response.headers["Content-Type"].startswith("application/problem+json")
    assert await _table_counts(world) == before
