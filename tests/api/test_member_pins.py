"""Names, roles and new recipients as the Python client pins them (docs/protocol.md §6.4),
against a server that turns malicious: the real server and SQLite file, edited behind its back
as an operator with write access could."""

from __future__ import annotations

from typing import Any

import pytest

from secure_msg.client import ClientError

from .conftest import CAREGIVER_UNTIL, PASSWORD, World


def _ids(result: dict[str, object]) -> list[str]:
    new = result["new_recipients"]
    assert isinstance(new, list)
    return [n["id"] for n in new]


async def test_each_unverified_recipient_is_new_once_per_booklet(world: World) -> None:
    """The first entry sealed to an unverified member names them; later ones do not, and a
    member who joins later (a caregiver outside the roster, whom the therapist's post
    confirms) is named on the next entry, alone."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti", grant_title=False)
    mum_id = mum.profile.account_id
    assert _ids(await therapist.post(booklet, "note", text="eka")) == [mum_id]
    assert _ids(await therapist.post(booklet, "note", text="toka")) == []
    daycare = await world.family(therapist, booklet, "paivakoti", role="caregiver",
                                 grant_title=False, sign_in=False)
    assert _ids(await therapist.post(booklet, "note", text="kolmas")) == \
        [daycare.profile.account_id]
    assert _ids(await therapist.post(booklet, "note", text="neljäs")) == []


async def test_a_member_granted_history_is_not_new_again(world: World) -> None:
    """A history grant hands my keys to the member: the grant was their first time, and the
    next post does not name them again."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    await world.family(therapist, booklet, "aiti")
    assert _ids(await therapist.post(booklet, "note", text="eka")) == []


async def test_a_member_verified_in_person_is_never_new(world: World) -> None:
    """Comparing safety numbers is the check that makes the warning unnecessary."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti", grant_title=False)
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
    await world.server_sql("UPDATE accounts SET name_enc = (SELECT name_enc FROM accounts"
                      " WHERE id = ?) WHERE id = ?",
                      bytes.fromhex(therapist.profile.account_id), daycare_id)
    await world.server_sql("UPDATE members SET role = 'therapist' WHERE account_id = ?",
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
    await world.server_sql("UPDATE members SET role = 'therapist' WHERE account_id = ?",
                      bytes.fromhex(dad.profile.account_id))
    await dad.post(booklet, "homework", task="Ei terapeutin", frequency="daily")
    shown = await mum.read(booklet)
    assert shown[-1].error == "protocol/wrong-author"
    assert all(e.error is None for e in shown[:-1])
    assert "Ei terapeutin" not in repr(shown)


async def test_verifying_a_member_keeps_the_role_first_seen(world: World) -> None:
    """Verification in person trusts the key; it must not re-pin whatever role the server
    lists next, or the server could promote a parent right after the parents compared numbers."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    dad = await world.family(therapist, booklet, "isa")
    dad_seen = next(m for m in await mum.members(booklet)
                    if m.account_id == dad.profile.account_id)
    assert mum.verify(dad_seen, mum.safety_number(dad_seen))
    await world.server_sql("UPDATE members SET role = 'therapist' WHERE account_id = ?",
                      bytes.fromhex(dad.profile.account_id))
    relisted = next(m for m in await mum.members(booklet)
                    if m.account_id == dad.profile.account_id)
    assert relisted.verified
    assert relisted.relabelled
    await dad.post(booklet, "homework", task="Ei terapeutin", frequency="daily")
    shown = await mum.read(booklet)
    assert shown[-1].error == "protocol/wrong-author"
    assert all(e.error is None for e in shown[:-1])
    assert "Ei terapeutin" not in repr(shown)


async def test_a_member_first_seen_without_a_name_is_flagged_when_given_one(
    world: World,
) -> None:
    """"No name" is what was first listed: a name the server adds later is a relabelling."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    link = (await therapist.invite(booklet, "caregiver", until=CAREGIVER_UNTIL,
                                   scope="new"))["link"]
    daycare = world.new_client()
    await daycare.enroll(world.base + link[link.index("/enroll/"):], "paivakoti", PASSWORD)
    await world.consent_all(booklet, daycare.profile.account_id)
    first = {m.account_id: m for m in await mum.members(booklet)}
    assert first[daycare.profile.account_id].name is None
    await world.server_sql("UPDATE accounts SET name_enc = (SELECT name_enc FROM accounts"
                      " WHERE id = ?) WHERE id = ?", bytes.fromhex(therapist.profile.account_id),
                      bytes.fromhex(daycare.profile.account_id))
    later = {m.account_id: m for m in await mum.members(booklet)}
    assert later[daycare.profile.account_id].name == "T"
    assert later[daycare.profile.account_id].relabelled


async def test_an_unverified_newcomer_can_be_refused_before_anything_is_sealed(
    world: World,
) -> None:
    """With allow_unverified=False (the CLI's default) the post stops before sealing: nothing
    is stored, and the newcomer stays new."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti", grant_title=False)
    before = await therapist.api.call("GET", f"/api/booklets/{booklet}/head")
    with pytest.raises(ClientError) as err:
        await therapist.post(booklet, "note", text="eka", allow_unverified=False)
    assert err.value.code == "unverified-recipients"
    assert [n["id"] for n in err.value.extra["new_recipients"]] == [mum.profile.account_id]
    assert await therapist.api.call("GET", f"/api/booklets/{booklet}/head") == before
    assert _ids(await therapist.post(booklet, "note", text="eka")) == [mum.profile.account_id]


async def test_a_recipient_of_an_attempt_the_server_refused_is_still_named(
    world: World,
) -> None:
    """The server adds an account for one attempt, keeps that envelope, answers "someone posted
    first" and removes the account before the retry: the post still names it."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    await world.family(therapist, booklet, "aiti")
    await therapist.post(booklet, "note", text="eka")
    other = await therapist.create_booklet("Toinen")
    spy = await world.family(therapist, other, "vakoilija")
    spy_id, key = bytes.fromhex(spy.profile.account_id), bytes.fromhex(booklet)
    await world.server_sql("INSERT INTO members (booklet_id, account_id, role, joined_at_ms,"
                      " joined_seq) SELECT ?, ?, 'guardian', 0, last_seq FROM booklets"
                      " WHERE id = ?", key, spy_id, key)
    real = therapist.api.call
    kept: list[object] = []

    async def server(method: str, path: str, body: Any = None, params: Any = None) -> Any:
        if method == "POST" and path.endswith("/entries") and not kept:
            kept.append(body)
            await world.server_sql("DELETE FROM members WHERE booklet_id = ? AND"
                              " account_id = ?", key, spy_id)
            raise ClientError(409, "sequence-conflict", "Someone posted first")
        return await real(method, path, body, params=params)

    therapist.api.call = server  # type: ignore[method-assign]
    result = await therapist.post(booklet, "note", text="toka")
    assert kept
    assert _ids(result) == [spy.profile.account_id]


async def test_logging_in_as_another_account_starts_without_the_first_ones_pins(
    world: World,
) -> None:
    """Pins, verifications and checkpoints are one person's: a shared profile folder does not
    hand them to the next account that logs in there."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    await therapist.post(booklet, "note", text="eka")
    await mum.read(booklet)
    assert mum.profile.checkpoints
    await mum.login(world.base, "terapeutti", PASSWORD)
    assert set(mum.profile.pins) == {therapist.profile.account_id}
    assert mum.profile.checkpoints == {}
    assert mum.profile.sealed_to == {}
