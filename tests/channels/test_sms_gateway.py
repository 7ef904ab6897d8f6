"""TwilioSmsGateway through the real `twilio` SDK to the local Twilio-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from secure_msg.channels.inbound import is_valid_twilio_signature
from secure_msg.channels.sms import (
    Failed,
    RecordingSmsGateway,
    RetryLater,
    Sent,
    TwilioSettings,
    TwilioSmsGateway,
)
from secure_msg.channels.sms_retry import FailureKind
from secure_msg.config import Secret, TwilioConfig
from secure_msg.testing.twilio_server import RunningTwilioServer

TO = "+358401234567"
BODY = "Muistutus: varattu aika ti 13.5.2025 klo 14.30."


async def add_faults(server: RunningTwilioServer, **fault: Any) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/_dev/faults", json=fault) as response,
    ):
        assert response.status == 200, await response.text()


async def send(settings: TwilioSettings, to: str = TO, callback: str | None = None) -> Any:
    async with TwilioSmsGateway(settings) as gateway:
        return await gateway.send(to, BODY, callback)


def attempts(server: RunningTwilioServer) -> list[str | None]:
    return [a["fault"] for a in server.state.attempts]


async def test_send_creates_message(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A plain send is one request and returns the sid the server stored, with the body."""
    result = await send(settings)
    assert isinstance(result, Sent)
    assert result.attempts == 1
    assert not result.possible_duplicate
    stored = twilio_server.state.messages[result.provider_sid]
    assert (stored.to, stored.body, stored.from_) == (TO, BODY, settings.account.from_number)


async def test_messaging_service_sid_is_sent_instead_of_from(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """With a messaging service configured the request carries MessagingServiceSid, no From."""
    mg = "MG" + "b" * 32
    result = await send(dataclasses.replace(
        settings, account=dataclasses.replace(settings.account, from_number=""),
        messaging_service_sid=mg))
    assert isinstance(result, Sent)
    stored = twilio_server.state.messages[result.provider_sid]
    assert (stored.messaging_service_sid, stored.from_) == (mg, None)


async def test_429_is_retried_after_retry_after(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A 429 with Retry-After: 1 is retried no sooner than a second later, then succeeds once."""
    await add_faults(twilio_server, kind="429", retry_after=1)
    started = time.monotonic()
    result = await send(settings)
    elapsed = time.monotonic() - started
    assert isinstance(result, Sent)
    assert result.attempts == 2
    assert not result.possible_duplicate  # nothing was created by the 429
    assert elapsed >= 1.0
    assert attempts(twilio_server) == ["429", None]
    assert len(twilio_server.state.messages) == 1


async def test_long_retry_after_is_handed_back(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A Retry-After longer than the inline limit returns RetryLater instead of blocking."""
    await add_faults(twilio_server, kind="429", retry_after=30)
    result = await send(settings)
    assert isinstance(result, RetryLater)
    assert result.reason is FailureKind.RATE_LIMITED
    assert result.after_seconds >= 30
    assert result.attempts == 1
    assert twilio_server.state.messages == {}


async def test_500s_then_success_is_flagged_possible_duplicate(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """Two 500s are retried with backoff; the success is marked as a possible duplicate."""
    await add_faults(twilio_server, kind="500", count=2)
    result = await send(settings)
    assert isinstance(result, Sent)
    assert result.attempts == 3
    assert result.possible_duplicate
    assert attempts(twilio_server) == ["500", "500", None]


async def test_500s_until_the_limit_fail_visibly(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """Persistent 500s stop after max_ambiguous_attempts with a provider-error failure."""
    await add_faults(twilio_server, kind="500", count=10)
    result = await send(settings)
    assert result == Failed(
        FailureKind.PROVIDER_ERROR, attempts=3, error_code=20500, possible_duplicate=True
    )
    assert attempts(twilio_server) == ["500"] * 3


async def test_accepted_500_really_duplicates(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A 500 after the message was created leads to two messages: why 5xx is ambiguous."""
    await add_faults(twilio_server, kind="500", accepted=True)
    result = await send(settings)
    assert isinstance(result, Sent)
    assert result.possible_duplicate
    assert [m.to for m in twilio_server.state.messages.values()] == [TO, TO]


async def test_timeout_is_enforced_and_retried(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A server hanging 10 s is cut off at the 0.5 s request timeout and the retry succeeds."""
    await add_faults(twilio_server, kind="timeout", hang_seconds=10)
    started = time.monotonic()
    result = await send(settings)
    assert isinstance(result, Sent)
    assert result.attempts == 2
    assert result.possible_duplicate
    assert time.monotonic() - started < 3


async def test_timeouts_until_the_limit_fail(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """Repeated timeouts end as a visible timeout failure."""
    await add_faults(twilio_server, kind="timeout", hang_seconds=10, count=3)
    result = await send(settings)
    assert isinstance(result, Failed)
    assert result.reason is FailureKind.TIMEOUT
    assert result.attempts == 3


async def test_connection_reset_is_retried(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A TCP reset counts as an ambiguous connection error and is retried."""
    await add_faults(twilio_server, kind="reset")
    result = await send(settings)
    assert isinstance(result, Sent)
    assert result.attempts == 2
    assert result.possible_duplicate


async def test_connection_resets_until_the_limit_fail(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """Repeated resets end as a visible connection-error failure."""
    await add_faults(twilio_server, kind="reset", count=5)
    result = await send(settings)
    assert isinstance(result, Failed)
    assert result.reason is FailureKind.CONNECTION
    assert result.attempts == 3


async def test_refused_connection_is_not_sent_and_handed_back(settings: TwilioSettings) -> None:
    """Nothing listening on the configured URL: nothing can have been created, so it is not
    ambiguous, never a failure, and handed back to be tried later (the outbox retries it until
    the notice's deadline) once the inline attempts are used up."""
    settings = dataclasses.replace(
        settings, account=dataclasses.replace(settings.account, api_base_url="http://127.0.0.1:9"),
        max_attempts_per_send=3)
    result = await send(settings)
    assert isinstance(result, RetryLater)
    assert (result.reason, result.attempts, result.possible_duplicate) == (
        FailureKind.UNREACHABLE, 3, False)


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: a new connection is never set up (its SYN is
    dropped), so a request to it can never be written."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for s in (*fillers, server):
        s.close()


async def test_timeout_before_the_request_is_written_is_not_ambiguous(
    settings: TwilioSettings, unanswered_port: int,
) -> None:
    """A connection that cannot be set up in time times out before anything was written: not
    sent (unreachable), not the ambiguous timeout after a request went out."""
    settings = dataclasses.replace(
        settings, account=dataclasses.replace(settings.account,
                                              api_base_url=f"http://127.0.0.1:{unanswered_port}"),
        request_timeout=0.3, max_attempts_per_send=1, max_inline_wait=0.0)
    result = await send(settings)
    assert isinstance(result, RetryLater)
    assert (result.reason, result.possible_duplicate) == (FailureKind.UNREACHABLE, False)


async def test_invalid_number_is_permanent(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A number the provider rejects (21211) fails at once with invalid-number."""
    result = await send(settings, to="+12")
    assert result == Failed(FailureKind.INVALID_NUMBER, attempts=1, error_code=21211)


async def test_injected_21211_is_permanent(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """An injected 21211 for a well-formed number is not retried."""
    await add_faults(twilio_server, kind="21211")
    result = await send(settings)
    assert result == Failed(FailureKind.INVALID_NUMBER, attempts=1, error_code=21211)
    assert len(twilio_server.state.attempts) == 1


async def test_opted_out_number_is_permanent(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A number that always answers 21610 fails as opted-out every time, one request each."""
    await add_faults(twilio_server, kind="21610", number=TO)
    first, second = await send(settings), await send(settings)
    expected = Failed(FailureKind.OPTED_OUT, attempts=1, error_code=21610)
    assert first == expected
    assert second == expected
    assert isinstance(await send(settings, to="+358409999999"), Sent)  # others unaffected


async def test_wrong_credentials_fail_as_auth(settings: TwilioSettings) -> None:
    """A wrong auth token is a permanent auth failure, not retried."""
    result = await send(dataclasses.replace(
        settings, account=dataclasses.replace(settings.account, auth_token=Secret("wrong"))))
    assert result == Failed(FailureKind.AUTH, attempts=1, error_code=20003)


async def test_whatsapp_address_never_reaches_twilio(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A whatsapp: address is refused on the SMS path without any request."""
    result = await send(settings, to="whatsapp:+358401234567")
    assert result == Failed(FailureKind.NOT_AN_SMS_ADDRESS, attempts=0)
    assert twilio_server.state.attempts == []


async def test_status_callbacks_are_signed_and_arrive(
    twilio_server: RunningTwilioServer, settings: TwilioSettings, webhook_sink: Any
) -> None:
    """The status callback gets sent then delivered, each with a valid X-Twilio-Signature."""
    result = await send(settings, callback=f"{webhook_sink.url}/webhooks/twilio/status")
    assert isinstance(result, Sent)
    received = await webhook_sink.wait_for(2)
    assert [r.form["MessageStatus"] for r in received] == ["sent", "delivered"]
    for r in received:
        assert r.form["MessageSid"] == result.provider_sid
        assert is_valid_twilio_signature(
            auth_token=settings.account.auth_token.reveal(),
            public_base_url=webhook_sink.url,
            path_qs=r.path_qs,
            params=r.form,
            signature=r.headers.get("X-Twilio-Signature"),
        )


async def test_undelivered_fault_reports_error_code(
    twilio_server: RunningTwilioServer, settings: TwilioSettings, webhook_sink: Any
) -> None:
    """An undelivered fault is accepted (Sent) and the final callback carries ErrorCode."""
    await add_faults(twilio_server, kind="undelivered", number=TO)
    result = await send(settings, callback=f"{webhook_sink.url}/status")
    assert isinstance(result, Sent)
    received = await webhook_sink.wait_for(2)
    assert received[-1].form["MessageStatus"] == "undelivered"
    assert received[-1].form["ErrorCode"] == "30003"


async def test_concurrent_sends_keep_retry_after_apart(
    twilio_server: RunningTwilioServer, settings: TwilioSettings
) -> None:
    """A 429 on one number does not leak its Retry-After into a concurrent send."""
    await add_faults(twilio_server, kind="429", retry_after=30, number="+358400000001")
    async with TwilioSmsGateway(settings) as gateway:
        limited, ok = await asyncio.gather(
            gateway.send("+358400000001", BODY), gateway.send("+358400000002", BODY)
        )
    assert isinstance(limited, RetryLater)
    assert limited.after_seconds >= 30
    assert isinstance(ok, Sent)


async def test_no_phone_number_or_body_is_logged(
    twilio_server: RunningTwilioServer, settings: TwilioSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither phone numbers nor bodies appear in any log record, in success or failure."""
    caplog.set_level(logging.DEBUG)
    await add_faults(twilio_server, kind="500")
    await add_faults(twilio_server, kind="21610", number="+358400000009")
    await send(settings)
    await send(settings, to="+358400000009")
    assert caplog.records, "expected the gateway to log outcomes"
    for text in (TO, "+358400000009", settings.account.from_number, BODY, "14.30"):
        assert text not in caplog.text


async def test_recording_gateway_records_and_scripts() -> None:
    """The recording fake records sends, returns scripted outcomes, then fake sids."""
    gateway = RecordingSmsGateway([Failed(FailureKind.OPTED_OUT, attempts=1, error_code=21610)])
    first = await gateway.send(TO, "a", "https://x.example/cb")
    second = await gateway.send(TO, "b")
    refused = await gateway.send("whatsapp:" + TO, "c")
    assert isinstance(first, Failed)
    assert isinstance(second, Sent)
    assert second.provider_sid.startswith("SM")
    assert len(second.provider_sid) == 34
    assert isinstance(refused, Failed)
    assert refused.reason is FailureKind.NOT_AN_SMS_ADDRESS
    assert [(s.body, s.status_callback) for s in gateway.sent] == [
        ("a", "https://x.example/cb"),
        ("b", None),
    ]


def test_settings_hide_the_auth_token() -> None:
    """The auth token is not in the settings' repr, so it cannot leak through logging."""
    settings = TwilioSettings(TwilioConfig("AC" + "0" * 32, Secret("s3cret-token"),
                                           from_number="+358400000000"))
    assert "s3cret-token" not in repr(settings)


def test_settings_need_exactly_one_sender() -> None:
    """Configuring both or neither of From and MessagingServiceSid is an error."""
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSettings(TwilioConfig("AC" + "0" * 32, Secret("t")))
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSettings(TwilioConfig("AC" + "0" * 32, Secret("t"), from_number="+358"),
                       messaging_service_sid="MG1")
