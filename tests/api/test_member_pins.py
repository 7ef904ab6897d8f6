"""Names, roles and new recipients as the Python client pins them (docs/protocol.md §6.4),
against a server that turns malicious: the real server and SQLite file, edited behind its back
as an operator with write access could."""

from __future__ import annotations

import sqlite3

import pytest

from secure_msg.client import ClientError
from secure_msg.web.context import RUNTIME

from .conftest import World


async def _server_sql(world: World, sql: str, *params: object) -> None:
    db = world.http.app[RUNTIME].database
    assert db is not None

    def txn(conn: sqlite3.Connection) -> None:
        conn.execute(sql, params)

    await db.write(txn)


def _ids(result: dict[str, object]) -> list[str]:
    new = result["new_recipients"]
    assert isinstance(new, list)
    return [n["id"] for n in new]


async def test_each_unverified_recipient_is_new_once_per_booklet(world: World) -> None:
    """The first entry sealed to an unverified member names them; later ones do not, and a
    member who joins later is named on the next entry, alone."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    mum_id = mum.profile.account_id
    assert _ids(await therapist.post(booklet, "note", text="eka")) == [mum_id]
    assert _ids(await therapist.post(booklet, "note", text="toka")) == []
    daycare = await world.family(therapist, booklet, "paivakoti", role="caregiver")
    assert _ids(await therapist.post(booklet, "note", text="kolmas")) == \
        [daycare.profile.account_id]


async def test_a_member_verified_in_person_is_never_new(world: World) -> None:
    """Comparing safety numbers is the check that makes the warning unnecessary."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    mum_in_therapists_view = next(m for m in await therapist.members(booklet)
                                  if m.account_id == mum.profile.account_id)
    assert therapist.verify(mum_in_therapists_view, therapist.safety_number(
        mum_in_therapists_view))
    assert _ids(await therapist.post(booklet, "note", text="eka")) == []


async def test_a_member_relabelled_by_the_server_is_flagged(world: World) -> None:
    """The server gives the daycare worker the therapist's name and role: the client shows the
    name and role it first saw beside the new ones."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    daycare = await world.family(therapist, booklet, "paivakoti", role="caregiver")
    before = {m.account_id: m for m in await mum.members(booklet)}
    assert not any(m.relabelled for m in before.values())
    daycare_id = bytes.fromhex(daycare.profile.account_id)
    await _server_sql(world, "UPDATE accounts SET name_enc = (SELECT name_enc FROM accounts"
                      " WHERE id = ?) WHERE id = ?",
                      bytes.fromhex(therapist.profile.account_id), daycare_id)
    await _server_sql(world, "UPDATE members SET role = 'therapist' WHERE account_id = ?",
                      daycare_id)
    after = {m.account_id: m for m in await mum.members(booklet)}
    relabelled = after[daycare.profile.account_id]
    assert relabelled.relabelled
    assert (relabelled.name, relabelled.role) == ("T", "therapist")
    assert (relabelled.pinned_name, relabelled.pinned_role) == ("paivakoti", "caregiver")
    assert not after[therapist.profile.account_id].relabelled


async def test_a_member_promoted_by_the_server_cannot_write_as_the_therapist(
    world: World,
) -> None:
    """A parent's client pinned the other parent as a guardian: when the server lists them as
    therapist and accepts their homework entry, the parent's client still refuses it."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    dad = await world.family(therapist, booklet, "isa")
    await mum.members(booklet)
    await _server_sql(world, "UPDATE members SET role = 'therapist' WHERE account_id = ?",
                      bytes.fromhex(dad.profile.account_id))
    await dad.post(booklet, "homework", task="Ei terapeutin", frequency="daily")
    with pytest.raises(ClientError) as err:
        await mum.read(booklet)
    assert err.value.code == "protocol/wrong-author"
