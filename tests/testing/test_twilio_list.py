"""The local Twilio server's Messages list and outages, driven by the official `twilio` SDK:
the filters and paging of Twilio's OpenAPI description (To, From, DateSent, DateSent<,
DateSent>; PageSize, Page, PageToken, next_page_uri), which the outbox's reconcile relies on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from twilio.rest import Client

from secure_msg.channels.sms import BaseUrlTwilioHttpClient, TwilioSettings, TwilioSmsGateway
from secure_msg.channels.sms_retry import AttemptFailure, FailureKind
from secure_msg.testing.twilio_server import RunningTwilioServer
from secure_msg.testing.twilio_state import StoredMessage
from secure_msg.testing.twilio_webhooks import new_sid

TO = "+358401234567"
OTHER = "+358409999999"
FROM = "+358451234000"
DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
async def client(twilio_server: RunningTwilioServer) -> AsyncIterator[Any]:
    http = BaseUrlTwilioHttpClient(twilio_server.url)
    yield Client(twilio_server.state.account_sid, twilio_server.state.auth_token, http_client=http)
    await http.close()


def put(server: RunningTwilioServer, body: str, created: datetime, *, to: str = TO,
        from_: str = FROM, sent: datetime | None = None) -> str:
    """A message stored as if created at `created` and sent at `sent` (None: still queued)."""
    sid = new_sid("SM")
    server.state.messages[sid] = StoredMessage(
        sid, server.state.account_sid, to, from_, None, body, None, created,
        status="sent" if sent else "queued", date_sent=sent)
    return sid


async def bodies(client: Any, **filters: Any) -> list[str]:
    return [m.body for m in await client.messages.list_async(**filters)]


async def test_filters_to_from_and_date_sent(client: Any,
                                             twilio_server: RunningTwilioServer) -> None:
    """To and From filter exactly; DateSent on a day, DateSent< and DateSent> on or before and
    after an instant; a message not sent yet matches no DateSent filter, only the others."""
    put(twilio_server, "day1", DAY - timedelta(days=1), sent=DAY - timedelta(days=1))
    put(twilio_server, "day2-early", DAY, sent=DAY + timedelta(minutes=1))
    put(twilio_server, "day2-late", DAY + timedelta(hours=2), sent=DAY + timedelta(hours=2))
    put(twilio_server, "queued", DAY + timedelta(hours=3))
    put(twilio_server, "other-to", DAY, to=OTHER, sent=DAY)
    put(twilio_server, "other-from", DAY, from_="+358451239999", sent=DAY)

    assert await bodies(client, to=TO, from_=FROM) == ["queued", "day2-late", "day2-early",
                                                        "day1"]
    assert await bodies(client, to=OTHER) == ["other-to"]
    assert await bodies(client, to=TO, from_=FROM, date_sent=DAY.date().isoformat()) == [
        "day2-late", "day2-early"]
    after = DAY + timedelta(minutes=1)  # the SDK sends an ISO instant: on or after it
    assert await bodies(client, to=TO, from_=FROM, date_sent_after=after) == [
        "day2-late", "day2-early"]
    assert await bodies(client, to=TO, from_=FROM, date_sent_before=after) == [
        "day2-early", "day1"]
    assert await bodies(client, to=TO, date_sent_after=DAY + timedelta(hours=2, seconds=1)) == []


@pytest.mark.parametrize("value", ["2026-03-10", "Tue, 10 Mar 2026 12:00:00 -0000",
                                   "2026-03-10 12:00:00.000", "03/10/2026 05:00:00 MST"])
async def test_date_formats_of_the_spec_examples(twilio_server: RunningTwilioServer,
                                                 value: str) -> None:
    """Each DateSent format Twilio's description shows is read (the same instant or day)."""
    put(twilio_server, "at", DAY, sent=DAY)
    put(twilio_server, "before", DAY - timedelta(days=2), sent=DAY - timedelta(days=2))
    status, body = await _raw(twilio_server, {"To": TO, "DateSent>": value})
    assert status == 200
    assert [m["body"] for m in body["messages"]] == ["at"]


@pytest.mark.parametrize("query", [{"DateSent>": "yesterday"}, {"PageSize": "0"},
                                   {"PageSize": "1001"}, {"Page": "-1"}, {"PageToken": "XX1"},
                                   {"PageToken": "PASMnotthere"}])
async def test_bad_queries_are_twilio_400s(twilio_server: RunningTwilioServer,
                                           query: dict[str, str]) -> None:
    put(twilio_server, "a", DAY, sent=DAY)
    status, body = await _raw(twilio_server, query)
    assert (status, body["code"]) == (400, 20001)


async def test_pages_follow_the_token_even_when_messages_arrive(
    client: Any, twilio_server: RunningTwilioServer,
) -> None:
    """PageSize pages newest first; next_page_uri carries the filters and a PageToken naming
    the last message shown, so a message created between two pages neither repeats nor skips
    one; the last page has no next_page_uri."""
    for i in range(7):
        put(twilio_server, f"m{i}", DAY + timedelta(minutes=i), sent=DAY + timedelta(minutes=i))
    first = await client.messages.page_async(to=TO, from_=FROM, page_size=3)
    seen = [m.body for m in first]
    query = parse_qs(urlsplit(first.next_page_url).query)
    assert (query["To"], query["From"], query["PageSize"], query["Page"]) == (
        [TO], [FROM], ["3"], ["1"])
    assert query["PageToken"][0].startswith("PA")
    put(twilio_server, "new", DAY + timedelta(hours=1), sent=DAY + timedelta(hours=1))
    page = first
    while (page := await page.next_page_async()) is not None:
        seen += [m.body for m in page]
    assert seen == ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]
    assert await bodies(client, to=TO, page_size=2) == ["new", *seen]  # list_async pages too


async def test_gateway_find_and_fetch_status(twilio_server: RunningTwilioServer,
                                             settings: TwilioSettings) -> None:
    """The gateway's reconcile lookup: our messages to the number with that body created since
    the moment given, oldest first, across pages, queued ones included; fetch_status reads one
    message, and an unknown sid is a 404 failure."""
    since = datetime.now(UTC)
    put(twilio_server, "same", since - timedelta(seconds=5), from_=settings.account.from_number)
    expected = [put(twilio_server, "same", since + timedelta(milliseconds=i),
                    from_=settings.account.from_number) for i in range(60)]
    put(twilio_server, "other body", since, from_=settings.account.from_number)
    put(twilio_server, "same", since, to=OTHER, from_=settings.account.from_number)
    put(twilio_server, "same", since, from_="+358451239999")
    async with TwilioSmsGateway(settings) as gateway:
        found = await gateway.find(TO, "same", since)
        anything = await gateway.find(TO, None, since)
        status = await gateway.fetch_status(expected[0])
        missing = await gateway.fetch_status("SM" + "0" * 32)
    assert not isinstance(found, AttemptFailure)
    assert list(found.sids) == expected
    assert not isinstance(anything, AttemptFailure)
    assert len(anything.sids) == 61
    assert not isinstance(status, AttemptFailure)
    assert (status.status, status.error_code) == ("queued", None)
    assert isinstance(missing, AttemptFailure)
    assert (missing.kind, missing.status) == (FailureKind.REJECTED, 404)
    pages = [r for r in twilio_server.state.reads if r["kind"] == "list"]
    assert len(pages) == 4  # each find: 50 + 11, and the second page ends the search


async def test_offline_refuses_then_serves_again(twilio_server: RunningTwilioServer,
                                                 settings: TwilioSettings) -> None:
    """An outage refuses new connections and drops open ones; the gateway reports it as
    unreachable (nothing was written), and after it the same port serves again."""
    async with TwilioSmsGateway(settings) as gateway:
        assert not isinstance(await gateway.find(TO, None, DAY), AttemptFailure)  # pooled
        await twilio_server.go_offline()
        found = await gateway.find(TO, None, DAY)
        assert isinstance(found, AttemptFailure)
        assert found.kind is FailureKind.UNREACHABLE
        await twilio_server.go_online()
        assert not isinstance(await gateway.find(TO, None, DAY), AttemptFailure)


async def test_timed_outage_through_the_control_api(twilio_server: RunningTwilioServer) -> None:
    """POST /_dev/offline {"seconds": N} answers, then refuses connections for N seconds."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{twilio_server.url}/_dev/offline", json={"seconds": 0.5}) as r:
            assert r.status == 202
        async with http.post(f"{twilio_server.url}/_dev/offline", json={"seconds": -1}) as r:
            assert r.status == 400
    refused = False
    for _ in range(100):
        try:
            async with aiohttp.ClientSession() as http, http.get(
                    f"{twilio_server.url}/_dev/faults") as r:
                if refused:
                    assert r.status == 200
                    return
        except aiohttp.ClientConnectorError:
            refused = True
        await asyncio.sleep(0.05)
    raise AssertionError("the outage did not start and end")


async def _raw(server: RunningTwilioServer, query: dict[str, str]) -> tuple[int, Any]:
    state = server.state
    url = f"{server.url}/2010-04-01/Accounts/{state.account_sid}/Messages.json"
    auth = {"Authorization": aiohttp.encode_basic_auth(state.account_sid, state.auth_token)}
    async with aiohttp.ClientSession() as http, http.get(url, params=query, headers=auth) as r:
        return r.status, await r.json()
