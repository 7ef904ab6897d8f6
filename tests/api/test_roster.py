"""The signed roster and invitations that carry trust (docs/protocol.md §6.6, §6.7), end to end
through the Python client against the real server and its SQLite file."""

from __future__ import annotations

import pytest

from secure_msg.client import Client
from secure_msg.client.http import ClientError, b64e
from secure_msg.crypto import roster as roster_crypto
from secure_msg.web.services import SERVICES

from .conftest import CAREGIVER_UNTIL, PASSWORD, World


async def _join(world: World, therapist: Client, booklet: str, login: str,
                role: str = "guardian", via: str | None = "link") -> Client:
    """An invitation as the therapist hands it on, and the invitee enrolling with it. The
    test clock moves on first: an invitation signed in the same millisecond as the roster does
    not count as later than it (§6.7)."""
    world.clock.advance(1)
    link = (await therapist.invite(booklet, role, name=login, via=via))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], login, PASSWORD)
    return client


async def _entry_count(world: World, booklet: str) -> int:
    db = world.http.app[SERVICES].db
    row = await db.read(lambda c: c.execute(
        "SELECT count(*) FROM entries WHERE booklet_id = ?", (bytes.fromhex(booklet),)).fetchone())
    return int(row[0])


async def _roster_row(world: World, booklet: str) -> tuple[int, bytes] | None:
    db = world.http.app[SERVICES].db
    row = await db.read(lambda c: c.execute(
        "SELECT version, roster FROM booklet_rosters WHERE booklet_id = ?",
        (bytes.fromhex(booklet),)).fetchone())
    return (int(row[0]), bytes(row[1])) if row else None


async def test_an_invited_guardian_sees_the_title_and_earlier_entries_at_once(
        world: World) -> None:
    """No step by the therapist after inviting: the link's secret opens the history sealed to
    the invitation; the joiner re-wraps it to herself, so a second device reads it too."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    await therapist.post(booklet, "note", text="Ensimmäinen tapaaminen sovittu.")
    mum = await _join(world, therapist, booklet, "aiti", via="qr")
    assert [b["title"] for b in await mum.booklets()] == ["Eetu"]
    shown = await mum.read(booklet)
    assert [(e.kind, e.error) for e in shown] == [("title", None), ("note", None)]
    assert shown[1].payload["text"] == "Ensimmäinen tapaaminen sovittu."
    # The QR code was scanned at the meeting: the therapist is pinned as verified in person.
    assert mum.profile.pins[therapist.profile.account_id].verified
    # Another device of hers has no secret: it reads through her own re-wrapped grant.
    other = world.new_client()
    await other.login(world.base, "aiti", PASSWORD)
    assert [e.error for e in await other.read(booklet)] == [None, None]


async def test_a_link_sent_another_way_pins_the_therapist_on_first_use(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, booklet, "aiti", via="link")
    pin = mum.profile.pins[therapist.profile.account_id]
    assert (pin.identity_key, pin.verified) == (therapist.keys.identity_public.hex()
                                                if therapist.keys else "", False)
    assert [b["title"] for b in await mum.booklets()] == ["Eetu"]


async def test_a_link_naming_another_therapist_is_refused_before_joining_trust(
        world: World) -> None:
    """The server lists a therapist whose key is not the one the link's fragment names."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    link = (await therapist.invite(booklet, "guardian", name="aiti"))["link"]
    frag = roster_crypto.parse_fragment(link.split("#", 1)[1])
    forged = roster_crypto.Fragment(frag.secret, "00" * 16, frag.via).encode()
    mum = world.new_client()
    with pytest.raises(ClientError) as err:
        await mum.enroll(world.base + link[link.index("/enroll/"):].split("#")[0] + "#" + forged,
                         "aiti", PASSWORD)
    assert err.value.code == "protocol/identity-key-changed"
    assert await mum.read(booklet) == []  # no proof was sent: the history stays closed


async def test_a_parents_first_message_asks_nothing_when_everyone_is_vouched_for(
        world: World) -> None:
    """Mum and dad joined with links; mum's first entry is sealed to them with
    `allow_unverified=False` (the CLI without --confirm-unverified), before the therapist's
    client has even run again (the join proofs vouch until the next roster). A caregiver's link
    carries no trust (the guardians' consent decides what she reads, §5.1): she is refused
    unlisted until every guardian approved, then refused for being outside the roster, until the
    therapist's client signs her in (the order of the two refusals:
    tests/js/consent-client.test.mjs); then no parent is asked about anyone."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, booklet, "aiti")
    dad = await _join(world, therapist, booklet, "isa")
    version_before = (await _roster_row(world, booklet) or (0, b""))[0]
    posted = await mum.post(booklet, "note", text="Hei kaikille", allow_unverified=False)
    assert posted["new_recipients"] == []
    assert mum.rosters[booklet].via_invitation == {dad.profile.account_id}
    assert (await _roster_row(world, booklet) or (0, b""))[0] == version_before

    world.clock.advance(1)
    link = (await therapist.invite(booklet, "caregiver", name="paivakoti",
                                   until=CAREGIVER_UNTIL, scope="new"))["link"]
    assert "#" not in link  # no trust and no history sealed to a caregiver's link
    daycare = world.new_client()
    await daycare.enroll(world.base + link[link.index("/enroll/"):], "paivakoti", PASSWORD)
    care_id = daycare.profile.account_id
    # Not approved yet: not listed as a member, so nothing is sealed to her.
    assert care_id not in {m.account_id for m in await mum.members(booklet)}
    await mum.post(booklet, "note", text="Vielä ilman", allow_unverified=False)
    entries_before = await _entry_count(world, booklet)
    await mum.consent(booklet, care_id, "approve")
    await dad.consent(booklet, care_id, "approve")
    with pytest.raises(ClientError) as refused:  # approved, but the therapist has not signed
        await mum.post(booklet, "note", text="Ei vielä", allow_unverified=False)
    assert refused.value.code == "roster-refused"
    assert refused.value.extra["refused"] == {care_id: "not-in-roster"}
    assert await _entry_count(world, booklet) == entries_before  # nothing was sealed

    # The therapist's next run signs them all in (she confirms the caregiver, who joined
    # without trust); from then on the roster itself vouches.
    await therapist.post(booklet, "note", text="Tervetuloa")
    stored = await _roster_row(world, booklet)
    assert stored is not None
    assert stored[0] > version_before
    listed = {m.account_id.hex() for m in roster_crypto.parse_roster(stored[1]).members}
    assert listed == {therapist.profile.account_id, mum.profile.account_id,
                      dad.profile.account_id, care_id}
    posted = await mum.post(booklet, "note", text="Nyt", allow_unverified=False)
    assert posted["new_recipients"] == []
    await dad.post(booklet, "note", text="Kiitos", allow_unverified=False)
    assert dad.rosters[booklet].via_invitation == frozenset()


async def test_a_member_the_server_adds_without_the_therapists_signature_is_refused(
        world: World) -> None:
    """A direct write to the server's database makes an outsider a member. Every client
    refuses to seal to them (so none posts), the therapist's included until she confirms."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, booklet, "aiti")
    await mum.post(booklet, "note", text="ennen", allow_unverified=False)
    other = await therapist.create_booklet("Toinen")
    outsider = await _join(world, therapist, other, "ulkopuolinen")
    head = (await mum.api.call("GET", f"/api/booklets/{booklet}/head"))["last_seq"]
    await world.server_sql(
        "INSERT INTO members (booklet_id, account_id, role, joined_at_ms, joined_seq)"
        " VALUES (?, ?, 'guardian', ?, ?)", bytes.fromhex(booklet),
        bytes.fromhex(outsider.profile.account_id), world.clock.now_ms(), head)
    for client in (mum, therapist):
        with pytest.raises(ClientError) as err:
            await client.post(booklet, "note", text="SALAISUUS", allow_unverified=False)
        assert err.value.code in ("roster-refused", "unverified-recipients")
        assert outsider.profile.account_id in str(err.value.detail) + str(err.value.extra)
    assert mum.rosters[booklet].refused == {outsider.profile.account_id: "not-in-roster"}
    assert (await mum.api.call("GET", f"/api/booklets/{booklet}/head"))["last_seq"] == head
    # Even with --confirm-unverified a parent cannot seal to them: only the therapist vouches.
    with pytest.raises(ClientError) as err:
        await mum.post(booklet, "note", text="SALAISUUS", allow_unverified=True)
    assert err.value.code == "roster-refused"
    assert "SALAISUUS" not in repr(await outsider.read(booklet))


async def test_a_roster_rolled_back_by_the_server_blocks_sealing(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, booklet, "aiti")
    first = await _roster_row(world, booklet)
    assert first is not None
    await therapist.post(booklet, "note", text="x")  # signs mum in: the next version
    await mum.post(booklet, "note", text="y", allow_unverified=False)
    await world.server_sql("UPDATE booklet_rosters SET version = ?, roster = ?"
                           " WHERE booklet_id = ?", first[0], first[1], bytes.fromhex(booklet))
    with pytest.raises(ClientError) as err:
        await mum.post(booklet, "note", text="z", allow_unverified=False)
    assert err.value.code == "roster-refused"
    assert err.value.extra["roster_problem"] == "roster-rolled-back"


async def test_a_roster_signed_by_someone_else_is_not_trusted(world: World) -> None:
    """The server swaps in a roster signed by another key (here: dad's) listing an outsider."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, booklet, "aiti")
    dad = await _join(world, therapist, booklet, "isa")
    await therapist.post(booklet, "note", text="x")
    assert dad.keys is not None
    forged = roster_crypto.sign_roster(
        dad.keys, booklet_id=bytes.fromhex(booklet), version=99, created_at=1,
        members=[roster_crypto.RosterMember(dad.keys.account_id, dad.keys.identity_public,
                                            "therapist")])
    await world.server_sql("UPDATE booklet_rosters SET version = 99, roster = ?"
                           " WHERE booklet_id = ?", forged, bytes.fromhex(booklet))
    with pytest.raises(ClientError) as err:
        await mum.post(booklet, "note", text="z", allow_unverified=False)
    assert err.value.extra["roster_problem"] == "bad-signature"


async def test_the_roster_api_refuses_what_it_must_and_stores_nothing(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, booklet, "aiti")
    stored = await _roster_row(world, booklet)
    assert stored is not None
    assert therapist.keys is not None
    assert mum.keys is not None
    version, blob = stored
    path = f"/api/booklets/{booklet}/roster"
    nxt = roster_crypto.sign_roster(
        therapist.keys, booklet_id=bytes.fromhex(booklet), version=version + 1, created_at=5,
        members=[roster_crypto.RosterMember(therapist.keys.account_id,
                                            therapist.keys.identity_public, "therapist")])
    # a guardian may not store a roster
    status, body = await world.raw("PUT", path, mum.profile.token,
                                   json={"base_version": version, "roster": b64e(nxt)})
    assert (status, body["type"]) == (403, "forbidden")
    # a stale base version
    status, body = await world.raw("PUT", path, therapist.profile.token,
                                   json={"base_version": version - 1, "roster": b64e(nxt)})
    assert (status, body["type"]) == (422, "validation-failed")
    stale = roster_crypto.sign_roster(
        therapist.keys, booklet_id=bytes.fromhex(booklet), version=version, created_at=5,
        members=[roster_crypto.RosterMember(therapist.keys.account_id,
                                            therapist.keys.identity_public, "therapist")])
    status, body = await world.raw("PUT", path, therapist.profile.token,
                                   json={"base_version": version - 1, "roster": b64e(stale)})
    assert (status, body["type"], body["current_version"]) == (
        409, "roster-version-conflict", version)
    # a damaged signature, another booklet's roster
    status, body = await world.raw("PUT", path, therapist.profile.token, json={
        "base_version": version, "roster": b64e(nxt[:-1] + bytes([nxt[-1] ^ 1]))})
    assert (status, body["protocol_error"]) == (422, "bad-signature")
    elsewhere = roster_crypto.sign_roster(
        therapist.keys, booklet_id=bytes(16), version=version + 1, created_at=5,
        members=[roster_crypto.RosterMember(therapist.keys.account_id,
                                            therapist.keys.identity_public, "therapist")])
    status, body = await world.raw("PUT", path, therapist.profile.token,
                                   json={"base_version": version, "roster": b64e(elsewhere)})
    assert (status, body["protocol_error"]) == (422, "wrong-booklet")
    # signed by the guardian, sent by the therapist
    by_mum = roster_crypto.sign_roster(
        mum.keys, booklet_id=bytes.fromhex(booklet), version=version + 1, created_at=5,
        members=[roster_crypto.RosterMember(mum.keys.account_id, mum.keys.identity_public,
                                            "therapist")])
    status, body = await world.raw("PUT", path, therapist.profile.token,
                                   json={"base_version": version, "roster": b64e(by_mum)})
    assert (status, body["type"]) == (422, "protocol-rejected")
    assert await _roster_row(world, booklet) == (version, blob)
    # a join proof nobody joined with, and one for another account
    status, body = await world.raw("POST", f"/api/booklets/{booklet}/join", mum.profile.token,
                                   json={"proof": b64e(b"\x01\x00\x01\x62" + bytes(160))})
    assert status == 404
    status, body = await world.raw("POST", f"/api/booklets/{booklet}/join", mum.profile.token,
                                   json={"proof": b64e(b"\x01\x00\x01\x62")})
    assert (status, body["protocol_error"]) == (422, "truncated")


async def test_invitation_trust_is_checked_by_the_server(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, booklet, "aiti")
    assert therapist.keys is not None
    plain = await therapist.invite(booklet, "guardian", name="isa", via=None)
    inv = roster_crypto.invitation_keys(bytes(range(32)))
    path = f"/api/booklets/{booklet}/invitations/{plain['id']}/trust"

    def record(role: str = "guardian", booklet_id: str = booklet) -> str:
        assert therapist.keys is not None
        return b64e(roster_crypto.sign_invitation(
            therapist.keys, booklet_id=bytes.fromhex(booklet_id), invitation=inv, role=role,
            created_at=1))

    status, body = await world.raw("PUT", path, mum.profile.token, json={"invitation": record()})
    assert (status, body["type"]) == (403, "forbidden")
    status, body = await world.raw("PUT", path, therapist.profile.token,
                                   json={"invitation": record("caregiver")})
    assert (status, body["type"]) == (422, "validation-failed")
    status, body = await world.raw("PUT", path, therapist.profile.token,
                                   json={"invitation": record(booklet_id="00" * 16)})
    assert (status, body["protocol_error"]) == (422, "wrong-booklet")
    status, _ = await world.raw("PUT", f"/api/booklets/{booklet}/invitations/999999/trust",
                                therapist.profile.token, json={"invitation": record()})
    assert status == 404
    status, _ = await world.raw("PUT", path, therapist.profile.token,
                                json={"invitation": record()})
    assert status == 204
    status, body = await world.raw("PUT", path, therapist.profile.token,
                                   json={"invitation": record()})
    assert (status, body["type"]) == (410, "invitation-used")


async def test_an_existing_account_accepting_a_trusted_link_sees_the_history_at_once(
        world: World) -> None:
    """A parent with a second child in therapy joins the second booklet with her account."""
    therapist = await world.therapist()
    first = await therapist.create_booklet("Eetu")
    mum = await _join(world, therapist, first, "aiti")
    second = await therapist.create_booklet("Aino")
    await therapist.post(second, "note", text="Aino aloitti.")
    world.clock.advance(1)
    link = (await therapist.invite(second, "guardian", name="aiti"))["link"]
    assert await mum.accept(world.base + link[link.index("/enroll/"):]) == second
    titles = {b["id"]: b["title"] for b in await mum.booklets()}
    assert titles == {first: "Eetu", second: "Aino"}
    assert [e.payload.get("text") for e in await mum.read(second)] == [None, "Aino aloitti."]
    await mum.post(second, "note", text="Kiitos", allow_unverified=False)
