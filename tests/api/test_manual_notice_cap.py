"""The cap on notices a therapist sends by hand to one member (defect 8 of issue 14), on the
in-process server with a clock the test moves: concurrent requests cannot overshoot it, the
refusal is a 429 with Retry-After that queues nothing, and the hour frees up again."""

from __future__ import annotations

import asyncio

from secure_msg.client import Client
from secure_msg.storage.txn import Txn
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World

MUM_PHONE = "+358401112222"
DAD_PHONE = "+358401113333"


async def _join(world: World, therapist: Client, booklet: str, name: str, phone: str
                ) -> Client:
    link = (await therapist.invite(booklet, "guardian", name=name, phone=phone))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], name, PASSWORD)
    return client


async def _queued_to(world: World, account_id: str) -> int:
    def read(conn: Txn) -> int:
        row = conn.execute("SELECT COUNT(*) FROM notices WHERE recipient_id = ?",
                           (bytes.fromhex(account_id),)).fetchone()
        return int(row[0])

    return await world.http.app[SERVICES].db.read(read)


async def test_concurrent_manual_notices_stop_at_the_members_cap(world: World) -> None:
    """Eight notices to one guardian sent at once: three (the default hourly cap) are queued,
    five are 429 rate-limited with Retry-After and a detail naming the member's limit. Another
    member is not affected; an hour later one more goes."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await _join(world, therapist, booklet, "aiti", MUM_PHONE)
    dad = await _join(world, therapist, booklet, "isa", DAD_PHONE)
    path = f"/api/booklets/{booklet}/notices"
    token = therapist.profile.token

    async def send(member: Client) -> tuple[int, dict[str, str], object]:
        body = {"member_id": member.profile.account_id, "channel": "sms",
                "kind": "new_entry_ping"}
        async with world.http.post(path, json=body,
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, dict(resp.headers), await resp.json(content_type=None)

    answers = await asyncio.gather(*(send(mum) for _ in range(8)))
    assert sorted(status for status, _, _ in answers) == [202] * 3 + [429] * 5
    refused = [(headers, problem) for status, headers, problem in answers if status == 429]
    for headers, problem in refused:
        assert headers["Content-Type"].startswith("application/problem+json")
        assert int(headers["Retry-After"]) == 3600  # the clock stands still
        assert isinstance(problem, dict)
        assert problem["type"] == "rate-limited"
        assert problem["detail"] == ("This member has already been sent 3 notices by hand in "
                                     "the last hour, the most allowed; nothing was sent.")
    assert await _queued_to(world, mum.profile.account_id) == 3
    assert (await send(dad))[0] == 202
    world.clock.advance(3599)
    assert (await send(mum))[0] == 429
    world.clock.advance(1)
    assert (await send(mum))[0] == 202
    assert await _queued_to(world, mum.profile.account_id) == 4
