"""The audit's case on the real server (a subprocess) and the local Twilio server: six notices
sent by hand to one guardian in a row used to be six SMS. Now the member's cap holds, from
the configured [notices] keys, across a restart, and the refused ones never reach Twilio."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from .conftest import DAD_PHONE, MUM_PHONE, Practice

pytestmark = pytest.mark.slow


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A connection per request: the server restarts in the middle of the test."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        yield s


async def _call(http: aiohttp.ClientSession, p: Practice, method: str, body: Any = None
                ) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {p.therapist.profile.token}"}
    async with http.request(method, p.server.url(f"/api/booklets/{p.booklet}/notices"),
                            json=body, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.json(content_type=None)


async def _send(http: aiohttp.ClientSession, p: Practice, member_id: str
                ) -> tuple[int, dict[str, str], Any]:
    body = {"member_id": member_id, "channel": "sms", "kind": "new_entry_ping"}
    return await _call(http, p, "POST", body)


async def _notices_to(http: aiohttp.ClientSession, p: Practice, member_id: str
                      ) -> list[dict[str, Any]]:
    _, _, listed = await _call(http, p, "GET")
    return [n for n in listed["notices"] if n["recipient_id"] == member_id]


async def test_six_notices_in_a_row_send_only_the_members_cap(
    practice_factory: Any, http: aiohttp.ClientSession,
) -> None:
    """With manual_notices_per_member_hour = 2, the first two of six notices to the mother are
    sent as SMS and four are 429 rate-limited (Retry-After, a detail naming her limit) with
    nothing queued; the father still gets his. After a restart she is still at her cap; an
    hour later one more goes."""
    p = await practice_factory("manual_notices_per_member_hour = 2\n")
    mum, dad = p.mum.profile.account_id, p.dad.profile.account_id
    answers = [await _send(http, p, mum) for _ in range(6)]
    assert [status for status, _, _ in answers] == [202, 202, 429, 429, 429, 429]
    for _, headers, problem in answers[2:]:
        assert 0 < int(headers["Retry-After"]) <= 3600
        assert problem["type"] == "rate-limited"
        assert "2 notices by hand in the last hour" in problem["detail"]
    assert (await _send(http, p, dad))[0] == 202
    await p.wait_for(lambda: len(p.messages(MUM_PHONE)) == 2 and len(p.messages(DAD_PHONE)) == 1)
    assert len(await _notices_to(http, p, mum)) == 2  # the refused ones were never queued

    p.server.restart()
    status, _, problem = await _send(http, p, mum)
    assert (status, problem["type"]) == (429, "rate-limited")
    assert len(await _notices_to(http, p, mum)) == 2

    p.set_now(time.time_ns() // 1_000_000 + 3_600_000 + 1_000)
    assert (await _send(http, p, mum))[0] == 202
    await p.wait_for(lambda: len(p.messages(MUM_PHONE)) == 3)
