"""An invitee's phone is checked when the therapist types it: it becomes the account's phone,
which gets the SMS notices, so a landline or an impossible number is a 422 at once (not a
Twilio failure days later) and nothing is created."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from secure_msg.storage import invitations as invitation_store
from secure_msg.web.services import SERVICES

from .conftest import World


async def _counts(world: World) -> dict[str, int]:
    def txn(conn: sqlite3.Connection) -> dict[str, int]:
        return {table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
                for table in ("invitations", "audit_events", "notices")}

    return await world.http.app[SERVICES].db.read(txn)


async def _invite(world: World, token: str, booklet: str, **body: Any) -> tuple[int, Any]:
    return await world.raw("POST", f"/api/booklets/{booklet}/invitations", token,
                           json={"role": "guardian", "name": "Äiti", **body})


@pytest.mark.parametrize("send", [[], ["sms"]])
@pytest.mark.parametrize(("phone", "not_mobile"), [
    ("+358 9 1234567", True),     # a Helsinki landline
    ("09 1234567", True),         # the same, national form
    ("+358 800 123456", True),    # toll-free
    ("+358 75 1234567", False),   # no such range (the hand-written rule accepted it)
    ("+358 40 123", False),       # too short for a mobile (so was it: 8 digits)
])
async def test_a_phone_no_sms_reaches_is_422_and_nothing_is_created(
    world: World, phone: str, not_mobile: bool, send: list[str],
) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    before = await _counts(world)
    status, problem = await _invite(world, therapist.profile.token, booklet,
                                    phone=phone, send=send)
    assert status == 422, problem
    assert problem["type"] == "invalid-phone-number"
    if not_mobile:
        assert "not a mobile number" in problem["detail"]
        assert problem["errors"] == [{"field": "phone", "reason": "not-mobile"}]
    else:
        assert "not a valid phone number" in problem["detail"]
    assert await _counts(world) == before


async def test_a_mobile_in_any_spelling_is_stored_as_e164(world: World) -> None:
    """National input is read as Finnish; the blind index finds it under the E.164 form."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    status, body = await _invite(world, therapist.profile.token, booklet, phone="040-123 4567")
    assert status == 201, body
    runtime = world.http.app[SERVICES]

    def txn(conn: sqlite3.Connection) -> list[str | None]:
        found = invitation_store.find_by_phone_txn(conn, runtime.vault, "+358401234567")
        return [i.phone for i in found]

    assert await runtime.db.read(txn) == ["+358401234567"]
