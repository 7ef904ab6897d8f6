"""Accepting a booklet invitation with an account that is already in the booklet (defect 4 of
issue 14): refused with 409 `already-member`, and nothing changes — not the role, not where
the member's reading starts, not the link, not the audit."""

from __future__ import annotations

from typing import Any

import pytest

from secure_msg.client import Client, ClientError
from secure_msg.storage.txn import Txn
from secure_msg.web.services import SERVICES

from .conftest import CAREGIVER_UNTIL, PASSWORD, World


async def _snapshot(world: World, booklet: str) -> dict[str, Any]:
    """What an accept could change: the member rows, the booklet's member version, the unused
    invitations and the audit log."""
    def read(conn: Txn) -> dict[str, Any]:
        one = bytes.fromhex(booklet)
        return {
            "members": conn.execute(
                "SELECT account_id, role, joined_at_ms, joined_seq, removed_at_ms FROM members"
                " WHERE booklet_id = ? ORDER BY account_id", (one,)).fetchall(),
            "members_version": conn.execute(
                "SELECT members_version FROM booklets WHERE id = ?", (one,)).fetchone(),
            "unused_invitations": conn.execute(
                "SELECT COUNT(*) FROM invitations WHERE used_at_ms IS NULL").fetchone(),
            "audit": conn.execute("SELECT MAX(seq) FROM audit_events").fetchone(),
        }

    return await world.http.app[SERVICES].db.read(read)


async def _booklet_with_guardian(world: World) -> tuple[Client, str, Client]:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    await therapist.post(booklet, "note", text="eka")  # last_seq moves past mum's joined_seq
    world.clock.advance(3600)  # so that a new joined_at would differ
    return therapist, booklet, mum


@pytest.mark.parametrize("role", ["caregiver", "guardian"])
async def test_a_current_member_cannot_accept_an_invitation_again(world: World, role: str
                                                                  ) -> None:
    """A guardian accepting a caregiver link (or a guardian one) into her own booklet gets 409
    already-member; her role, joined_at and joined_seq stay, the link stays unused, and it
    still enrolls the person it was meant for."""
    therapist, booklet, mum = await _booklet_with_guardian(world)
    # a plain link: one that carries trust reads the booklet first (§6.7), and the server's
    # batched read audit could land after the snapshot
    terms = {"until": CAREGIVER_UNTIL, "scope": "new"} if role == "caregiver" else {}
    link = (await therapist.invite(booklet, role, name="isa", via=None, **terms))["link"]
    before = await _snapshot(world, booklet)
    with pytest.raises(ClientError) as err:
        await mum.accept(link)
    assert (err.value.status, err.value.code) == (409, "already-member")
    assert err.value.title == "You are already a member of this booklet"
    assert await _snapshot(world, booklet) == before
    dad = world.new_client()
    await dad.enroll(world.base + link[link.index("/enroll/"):], "isa", PASSWORD)
    if role == "caregiver":  # a member once the guardian approves
        await world.consent_all(booklet, dad.profile.account_id)
    roles = {m.account_id: m.role for m in await therapist.members(booklet)}
    assert roles[mum.profile.account_id] == "guardian"
    assert roles[dad.profile.account_id] == role


async def test_a_removed_member_can_join_again(world: World) -> None:
    """Re-adding a removed member still works: she is a member again from the current
    sequence, with the new link's role."""
    therapist, booklet, mum = await _booklet_with_guardian(world)
    dad = await world.family(therapist, booklet, "isa")
    await therapist.remove(booklet, mum.profile.account_id)
    link = (await therapist.invite(booklet, "caregiver", until=CAREGIVER_UNTIL,
                                   scope="new"))["link"]
    assert await mum.accept(link) == booklet
    await dad.consent(booklet, mum.profile.account_id, "approve")  # a caregiver needs it
    status, body = await world.raw("GET", f"/api/booklets/{booklet}/members",
                                   therapist.profile.token)
    assert status == 200
    [row] = [m for m in body["members"] if m["account_id"] == mum.profile.account_id]
    assert (row["role"], row["joined_seq"]) == ("caregiver", 2)
