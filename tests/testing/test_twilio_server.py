"""The local Twilio-compatible server, driven by the official `twilio` SDK."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from secure_msg.channels.inbound import is_valid_twilio_signature
from secure_msg.channels.sms import BaseUrlTwilioHttpClient
from secure_msg.testing.twilio_server import RunningTwilioServer, main
from secure_msg.testing.twilio_webhooks import (
    SignatureMode,
    send_forged_inbound_sms,
    send_inbound_sms,
    send_voice_webhook,
)

TO = "+358401234567"
FROM = "+358451234000"
SID_RE = re.compile(r"SM[0-9a-f]{32}")


@pytest.fixture
async def client(twilio_server: RunningTwilioServer) -> AsyncIterator[Any]:
    http = BaseUrlTwilioHttpClient(twilio_server.url)
    yield Client(twilio_server.state.account_sid, twilio_server.state.auth_token, http_client=http)
    await http.close()


async def control(server: RunningTwilioServer, method: str, path: str, **kw: Any) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.url + path, **kw) as response,
    ):
        return response.status, await response.json()


async def test_create_returns_a_message_resource(client: Any) -> None:
    """The SDK parses the create answer into a MessageInstance shaped like Twilio's."""
    message = await client.messages.create_async(to=TO, from_=FROM, body="Hei ä ö å")
    assert SID_RE.fullmatch(message.sid)
    assert (message.to, message.from_, message.body) == (TO, FROM, "Hei ä ö å")
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert isinstance(message.date_created, datetime)
    assert message.num_segments == "1"
    assert message.api_version == "2010-04-01"
    assert message.error_code is None
    assert message.uri.endswith(f"/Messages/{message.sid}.json")


async def test_num_segments_counts_ucs2(client: Any) -> None:
    """num_segments follows the encoding: 71 UCS-2 characters are two segments."""
    message = await client.messages.create_async(to=TO, from_=FROM, body="š" * 71)
    assert message.num_segments == "2"


async def test_fetch_and_list_follow_delivery(
    client: Any, twilio_server: RunningTwilioServer
) -> None:
    """Fetch shows the status moving to delivered; list filters by To and pages."""
    first = await client.messages.create_async(to=TO, from_=FROM, body="a")
    await client.messages.create_async(to="+358409999999", from_=FROM, body="b")
    await client.messages.create_async(to=TO, from_=FROM, body="c")
    await asyncio.sleep(0.2)
    fetched = await client.messages(first.sid).fetch_async()
    assert fetched.status == "delivered"
    assert isinstance(fetched.date_sent, datetime)
    to_listed = await client.messages.list_async(to=TO, page_size=1)
    assert [m.body for m in to_listed] == ["c", "a"]  # newest first, over two pages
    assert len(await client.messages.list_async()) == 3


async def test_fetch_unknown_is_404(client: Any) -> None:
    """An unknown sid is a Twilio-shaped 404 (code 20404)."""
    with pytest.raises(TwilioRestException) as exc:
        await client.messages("SM" + "0" * 32).fetch_async()
    assert (exc.value.status, exc.value.code) == (404, 20404)


async def test_wrong_credentials_are_401(twilio_server: RunningTwilioServer) -> None:
    """A wrong auth token or another account's SID is a 401 with code 20003."""
    http = BaseUrlTwilioHttpClient(twilio_server.url)
    try:
        for sid, token in (
            (twilio_server.state.account_sid, "wrong"),
            ("AC" + "f" * 32, twilio_server.state.auth_token),
        ):
            with pytest.raises(TwilioRestException) as exc:
                await Client(sid, token, http_client=http).messages.create_async(
                    to=TO, from_=FROM, body="x"
                )
            assert (exc.value.status, exc.value.code) == (401, 20003)
    finally:
        await http.close()
    assert twilio_server.state.messages == {}


async def test_missing_authorization_is_401(twilio_server: RunningTwilioServer) -> None:
    """No Authorization header at all gets 401 with a WWW-Authenticate challenge."""
    url = f"{twilio_server.url}/2010-04-01/Accounts/{twilio_server.state.account_sid}/Messages.json"
    async with aiohttp.ClientSession() as session, session.post(url, data={"To": TO}) as response:
        assert response.status == 401
        assert "WWW-Authenticate" in response.headers
        assert (await response.json())["code"] == 20003


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"to": "", "from_": FROM, "body": "x"}, 21604),
        ({"to": TO, "body": "x"}, 21603),
        ({"to": TO, "from_": FROM}, 21602),
        ({"to": "0401234567", "from_": FROM, "body": "x"}, 21211),
        ({"to": "+1", "from_": FROM, "body": "x"}, 21211),
        ({"to": TO, "from_": FROM, "body": "a" * 1601}, 21617),
    ],
)
async def test_validation_errors(client: Any, fields: dict[str, str], code: int) -> None:
    """Missing To/From/Body, bad numbers and long bodies get Twilio's 400 codes."""
    with pytest.raises(TwilioRestException) as exc:
        await client.messages.create_async(**fields)
    assert (exc.value.status, exc.value.code) == (400, code)


async def test_status_callbacks_are_signed(
    client: Any, twilio_server: RunningTwilioServer, webhook_sink: Any
) -> None:
    """Callbacks sent → delivered arrive form-encoded with a valid signature and are recorded."""
    callback = f"{webhook_sink.url}/webhooks/twilio/status?n=1"
    message = await client.messages.create_async(
        to=TO, from_=FROM, body="x", status_callback=callback
    )
    received = await webhook_sink.wait_for(2)
    assert [r.form["MessageStatus"] for r in received] == ["sent", "delivered"]
    for r in received:
        assert r.form["MessageSid"] == message.sid
        assert r.form["To"] == TO
        assert r.headers["I-Twilio-Idempotency-Token"]
        assert is_valid_twilio_signature(
            auth_token=twilio_server.state.auth_token,
            public_base_url=webhook_sink.url,
            path_qs=r.path_qs,
            params=r.form,
            signature=r.headers["X-Twilio-Signature"],
        )
    # The sink's answer is recorded after the sink has the callback: wait for both answers.
    for _ in range(100):
        _, body = await control(twilio_server, "GET", "/_dev/callbacks")
        if all(c["status"] is not None for c in body["callbacks"]):
            break
        await asyncio.sleep(0.05)
    assert [c["status"] for c in body["callbacks"]] == [200, 200]


async def test_failed_fault_reports_failed(
    client: Any, twilio_server: RunningTwilioServer, webhook_sink: Any
) -> None:
    """A sticky 'failed' rule accepts the message, then reports failed with ErrorCode 30008."""
    await control(twilio_server, "POST", "/_dev/faults", json={"kind": "failed", "number": TO})
    await client.messages.create_async(
        to=TO, from_=FROM, body="x", status_callback=webhook_sink.url
    )
    received = await webhook_sink.wait_for(2)
    assert received[-1].form["MessageStatus"] == "failed"
    assert received[-1].form["ErrorCode"] == "30008"


async def test_queued_faults_apply_in_order(
    client: Any, twilio_server: RunningTwilioServer
) -> None:
    """Queued faults hit the next requests one each, in order, then requests succeed."""
    faults = {"faults": [{"kind": "429", "retry_after": 7}, {"kind": "500"}, {"kind": "21610"}]}
    status, _ = await control(twilio_server, "POST", "/_dev/faults", json=faults)
    assert status == 200
    seen = []
    for _ in range(3):
        with pytest.raises(TwilioRestException) as exc:
            await client.messages.create_async(to=TO, from_=FROM, body="x")
        seen.append((exc.value.status, exc.value.code))
    assert seen == [(429, 20429), (500, 20500), (400, 21610)]
    assert (await client.messages.create_async(to=TO, from_=FROM, body="x")).sid


async def test_429_carries_retry_after(twilio_server: RunningTwilioServer) -> None:
    """The 429 answer has the Retry-After header the fault asked for."""
    await control(twilio_server, "POST", "/_dev/faults", json={"kind": "429", "retry_after": 4})
    state = twilio_server.state
    url = f"{twilio_server.url}/2010-04-01/Accounts/{state.account_sid}/Messages.json"
    auth = aiohttp.encode_basic_auth(state.account_sid, state.auth_token)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data={"To": TO, "From": FROM, "Body": "x"}, headers={"Authorization": auth}
        ) as response,
    ):
        assert response.status == 429
        assert response.headers["Retry-After"] == "4"


async def test_reset_drops_the_connection(client: Any, twilio_server: RunningTwilioServer) -> None:
    """A reset fault closes the connection without an HTTP answer."""
    await control(twilio_server, "POST", "/_dev/faults", json={"kind": "reset"})
    with pytest.raises(aiohttp.ClientError):
        await client.messages.create_async(to=TO, from_=FROM, body="x")


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "nope"},
        {"kind": "429", "count": 0},
        {"kind": "429", "retry_after": -1},
        {"kind": "timeout", "hang_seconds": "long"},
        {"kind": "21610", "accepted": True},
        {"faults": []},
        {"number": "+358", "clear": True, "kind": None} | {"number": 5},
    ],
)
async def test_bad_fault_requests_are_400(twilio_server: RunningTwilioServer, bad: Any) -> None:
    """Malformed fault requests are refused with 400 and change nothing."""
    status, _ = await control(twilio_server, "POST", "/_dev/faults", json=bad)
    assert status == 400
    _, book = await control(twilio_server, "GET", "/_dev/faults")
    assert book == {"queued": [], "sticky": {}}


async def test_sticky_rule_can_be_cleared(client: Any, twilio_server: RunningTwilioServer) -> None:
    """A per-number rule holds until cleared, then sends to that number succeed."""
    await control(twilio_server, "POST", "/_dev/faults", json={"kind": "21610", "number": TO})
    for _ in range(2):
        with pytest.raises(TwilioRestException):
            await client.messages.create_async(to=TO, from_=FROM, body="x")
    await control(twilio_server, "POST", "/_dev/faults", json={"number": TO, "clear": True})
    assert (await client.messages.create_async(to=TO, from_=FROM, body="x")).sid


async def test_a_numbers_own_queue_hits_only_it_and_only_so_often(
    client: Any, twilio_server: RunningTwilioServer,
) -> None:
    """`number` with `count`: the next N requests to that number fail, others' pass, then
    that number's pass too; the control API shows what is left of it."""
    await control(twilio_server, "POST", "/_dev/faults",
                  json={"kind": "429", "number": TO, "count": 2})
    _, shown = await control(twilio_server, "GET", "/_dev/faults")
    assert [f["kind"] for f in shown["per_number"][TO]] == ["429", "429"]
    assert (await client.messages.create_async(to="+358409999999", from_=FROM, body="x")).sid
    for _ in range(2):
        with pytest.raises(TwilioRestException) as exc:
            await client.messages.create_async(to=TO, from_=FROM, body="x")
        assert exc.value.status == 429
    assert (await client.messages.create_async(to=TO, from_=FROM, body="x")).sid
    assert "per_number" not in (await control(twilio_server, "GET", "/_dev/faults"))[1]


async def test_dev_messages_attempts_and_reset(
    client: Any, twilio_server: RunningTwilioServer
) -> None:
    """The control API lists bodies and attempts; reset forgets everything."""
    await control(twilio_server, "POST", "/_dev/faults", json={"kind": "500"})
    with pytest.raises(TwilioRestException):
        await client.messages.create_async(to=TO, from_=FROM, body="eka")
    await client.messages.create_async(to=TO, from_=FROM, body="toka")
    _, messages = await control(twilio_server, "GET", "/_dev/messages")
    _, attempts = await control(twilio_server, "GET", "/_dev/attempts")
    assert [m["body"] for m in messages["messages"]] == ["toka"]
    assert [(a["body"], a["fault"]) for a in attempts["attempts"]] == [
        ("eka", "500"),
        ("toka", None),
    ]
    await control(twilio_server, "POST", "/_dev/reset")
    _, messages = await control(twilio_server, "GET", "/_dev/messages")
    assert messages["messages"] == []
    assert twilio_server.state.attempts == []


async def test_inbound_helpers_sign_like_twilio(webhook_sink: Any) -> None:
    """Inbound SMS and voice helpers send Twilio's fields with valid (or forged) signatures."""
    token, url = "tok", f"{webhook_sink.url}/webhooks/twilio/sms"
    common: dict[str, Any] = {
        "auth_token": token,
        "account_sid": "AC" + "1" * 32,
        "from_": TO,
        "to": FROM,
    }
    await send_inbound_sms(url, body="PERU 4821", message_sid="SM" + "d" * 32, **common)
    await send_forged_inbound_sms(url, body="PERU 4821", **common)
    await send_inbound_sms(url, body="x", mode=SignatureMode.MISSING, **common)
    await send_voice_webhook(f"{webhook_sink.url}/webhooks/twilio/voice", digits="1", **common)
    good, forged, missing, voice = await webhook_sink.wait_for(4)

    def valid(r: Any) -> bool:
        return is_valid_twilio_signature(
            auth_token=token,
            public_base_url=webhook_sink.url,
            path_qs=r.path_qs,
            params=r.form,
            signature=r.headers.get("X-Twilio-Signature"),
        )

    assert good.form["Body"] == "PERU 4821"
    assert good.form["MessageSid"] == "SM" + "d" * 32
    assert good.form["From"] == TO
    assert good.form["SmsStatus"] == "received"
    assert valid(good)
    assert valid(voice)
    assert not valid(forged)
    assert "X-Twilio-Signature" in forged.headers
    assert "X-Twilio-Signature" not in missing.headers
    assert not valid(missing)
    assert voice.form["Digits"] == "1"
    assert voice.form["CallSid"].startswith("CA")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
async def test_module_entry_point_serves_and_stops() -> None:
    """`python -m ...twilio_server --port P` serves the SDK and exits 0 on SIGTERM."""
    port = _free_port()
    env = {**os.environ, "TWILIO_AUTH_TOKEN": "cli-token"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "secure_msg.testing.twilio_server", "--port", str(port),
        "--account-sid", "AC" + "e" * 32,
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert f":{port}" in line.decode()
        assert "cli-token" not in line.decode()
        http = BaseUrlTwilioHttpClient(f"http://127.0.0.1:{port}")
        try:
            client = Client("AC" + "e" * 32, "cli-token", http_client=http)
            assert (await client.messages.create_async(to=TO, from_=FROM, body="x")).sid
        finally:
            await http.close()
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_main_reports_a_taken_port() -> None:
    """main() returns 1 with a message when the port cannot be bound."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["--port", str(s.getsockname()[1])]) == 1


async def test_whatsapp_content_template_is_recorded(
    client: Any, twilio_server: RunningTwilioServer
) -> None:
    """whatsapp: To/From with ContentSid + ContentVariables (no Body) is accepted and recorded,
    and the control API shows the template fields."""
    sid = "HX" + "a" * 32
    message = await client.messages.create_async(
        to=f"whatsapp:{TO}", from_=f"whatsapp:{FROM}", content_sid=sid,
        content_variables='{"1":"12.5.2026","2":"14.30"}')
    stored = twilio_server.state.messages[message.sid]
    assert (stored.to, stored.from_, stored.content_sid, stored.content_variables) == (
        f"whatsapp:{TO}", f"whatsapp:{FROM}", sid, '{"1":"12.5.2026","2":"14.30"}')
    assert twilio_server.state.attempts[-1]["content_sid"] == sid
    status, body = await control(twilio_server, "GET", "/_dev/messages")
    assert status == 200
    assert body["messages"][-1]["content_sid"] == sid


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"to": f"whatsapp:{TO}", "from_": FROM, "content_sid": "HX" + "a" * 32}, 21910),
        ({"to": f"whatsapp:{TO}", "from_": f"whatsapp:{FROM}", "content_sid": "HX12"}, 21655),
        ({"to": f"whatsapp:{TO}", "from_": f"whatsapp:{FROM}", "content_sid": "HX" + "a" * 32,
          "content_variables": "not json"}, 21656),
        ({"to": TO, "from_": FROM, "body": "x", "content_variables": '{"1":"a"}'}, 21656),
    ],
)
async def test_bad_whatsapp_fields_get_twilio_errors(
    client: Any, fields: dict[str, str], code: int
) -> None:
    """Mixed channels, a malformed ContentSid or ContentVariables: Twilio's 400 errors."""
    with pytest.raises(TwilioRestException) as err:
        await client.messages.create_async(**fields)
    assert (err.value.status, err.value.code) == (400, code)
