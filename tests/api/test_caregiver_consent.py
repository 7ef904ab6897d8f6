"""A daycare or school caregiver joins a booklet for a stated time, and only with every
guardian's signed consent (issue 17 item 4, docs/protocol.md §5.1): the real app in-process,
its SQLite file, the Python client, and the server's clock moved by the test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from secure_msg.client import Client, ClientError
from secure_msg.client.http import b64d, b64e
from secure_msg.crypto import consent, envelope, labels
from secure_msg.crypto.envelope import KIND_IDS
from secure_msg.crypto.payloads import encode_payload
from secure_msg.crypto.primitives import sign
from secure_msg.services import caregiver_membership
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World

DAY_S = 86_400
UNTIL = "2026-03-31"  # the clock starts at 2026-01-01
UNTIL_MS = 1_774_990_800_000  # 2026-04-01T00:00 Europe/Helsinki (EEST, +03:00)


LOGINS = {"therapist": "terapeutti", "mother": "aiti", "father": "isa", "daycare": "paivakoti"}


@dataclass
class Booklet:
    id: str
    therapist: Client
    mother: Client
    father: Client
    daycare: Client


async def _caregiver(world: World, therapist: Client, booklet: str, *, until: str = UNTIL,
                     scope: str = "new") -> Client:
    link = (await therapist.invite(booklet, "caregiver", name="Päiväkoti", until=until,
                                   scope=scope))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], "paivakoti", PASSWORD)
    return client


async def _booklet(world: World) -> Booklet:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mother = await world.family(therapist, booklet, "aiti")
    father = await world.family(therapist, booklet, "isa")
    await therapist.post(booklet, "note", text="ennen päiväkotia")
    daycare = await _caregiver(world, therapist, booklet)
    return Booklet(booklet, therapist, mother, father, daycare)


async def _later(world: World, b: Booklet, seconds: float) -> None:
    """Move the server's clock; sessions that ran out meanwhile log in again."""
    world.clock.advance(seconds)
    for who, login in LOGINS.items():
        await getattr(b, who).login(world.base, login, PASSWORD)


async def _problem(world: World, who: Client, method: str, path: str,
                   body: dict[str, Any] | None = None) -> tuple[int, str]:
    status, answer = await world.raw(method, path, who.profile.token, json=body)
    return status, answer.get("type") if isinstance(answer, dict) else answer


async def _rows(world: World, sql: str, *params: object) -> list[tuple[Any, ...]]:
    db = world.http.app[SERVICES].db
    return await db.read(lambda c: c.execute(sql, params).fetchall())


def _status(rows: list[dict[str, Any]], account_id: str) -> str:
    return next(c["status"] for c in rows if c["account_id"] == account_id)


async def test_a_caregiver_reads_only_after_both_guardians_approve_and_until_the_end_date(
    world: World,
) -> None:
    """The acceptance line: pending while one of two guardians has not approved (403
    consent-pending on every read, no recipient); after both, reads new entries; after the end
    date 403 membership-expired and no recipient, and the members learn it."""
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    base = f"/api/booklets/{b.id}"
    for path in ("/entries", "/members", "/head", "/grants", "/caregivers"):
        assert await _problem(world, b.daycare, "GET", base + path) == (403, "consent-pending")
    assert me not in {m.account_id for m in await b.therapist.members(b.id)}
    assert (await b.daycare.booklets()) == []

    await b.mother.consent(b.id, me, "approve")
    assert _status(await b.father.caregivers(b.id), me) == "pending_consent"
    await b.therapist.post(b.id, "note", text="yksi hyväksyntä")
    assert await _problem(world, b.daycare, "GET", base + "/entries") == (403, "consent-pending")
    assert await _rows(world, "SELECT seq FROM entry_access WHERE account_id = ?",
                       bytes.fromhex(me)) == []

    answer = await b.father.consent(b.id, me, "approve")
    assert (answer["status"], answer["until"]) == ("active", "2026-03-31T21:00:00.000+00:00")
    assert {c["guardian_id"] for c in answer["consents"]} == {
        b.mother.profile.account_id, b.father.profile.account_id}
    await b.therapist.post(b.id, "note", text="päiväkodin kanssa")
    read = await b.daycare.read(b.id, kinds={"note"})
    assert [e.payload["text"] for e in read if not e.error] == ["päiväkodin kanssa"]

    await _later(world, b, UNTIL_MS / 1000 - world.clock.now_ms() / 1000 - 1)
    assert (await world.raw("GET", base + "/entries", b.daycare.profile.token))[0] == 200
    world.clock.advance(2)  # one second past the end
    assert await _problem(world, b.daycare, "GET", base + "/entries") == (
        403, "membership-expired")
    assert me not in {m.account_id for m in await b.therapist.members(b.id)}
    assert _status(await b.mother.caregivers(b.id), me) == "expired"
    await b.mother.post(b.id, "note", text="kesäloma")  # sealed without them
    seq = (await b.therapist.api.call("GET", f"{base}/head"))["last_seq"]
    assert (seq,) not in await _rows(world, "SELECT seq FROM entry_access WHERE account_id = ?",
                                     bytes.fromhex(me))
    actions = [r[0] for r in await _rows(world, "SELECT action FROM audit_events ORDER BY seq")]
    assert actions.count("member.expired") == 1


async def test_an_envelope_still_sealed_to_an_expired_caregiver_is_refused(
    world: World,
) -> None:
    """No recipient after the end date, even for a client that skips its own check: the
    server refuses the recipient set (recipient-set-mismatch) and stores nothing."""
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, me, "approve")
    members = await b.therapist.members(b.id)
    head = await b.therapist.api.call("GET", f"/api/booklets/{b.id}/head")
    await _later(world, b, 100 * DAY_S)
    sealed = envelope.seal_entry(
        b.therapist._me(), booklet_id=bytes.fromhex(b.id), entry_id=b"\x07" * 16,
        kind=KIND_IDS["note"], sequence=head["last_seq"] + 1,
        prev_hash=b64d(head["last_hash"]),
        created_at=world.clock.now_ms(), plaintext=encode_payload("note", text="x"),
        recipients=[(bytes.fromhex(m.account_id), m.encryption_key) for m in members])
    status, answer = await world.raw("POST", f"/api/booklets/{b.id}/entries",
                                     b.therapist.profile.token, json={"envelope": b64e(sealed)})
    assert (status, answer["protocol_error"]) == (422, "recipient-set-mismatch")
    assert await _rows(world, "SELECT 1 FROM entries WHERE entry_id = ?", b"\x07" * 16) == []


async def test_one_guardians_withdrawal_removes_the_caregiver(world: World) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, me, "approve")
    assert me in {m.account_id for m in await b.therapist.members(b.id)}
    answer = await b.father.consent(b.id, me, "withdraw")
    assert answer["status"] == "withdrawn"
    assert me not in {m.account_id for m in await b.therapist.members(b.id)}
    assert await _problem(world, b.daycare, "GET", f"/api/booklets/{b.id}/entries") == (
        404, "not-found")
    removed = await _rows(
        world, "SELECT actor, detail FROM audit_events WHERE action = 'member.removed'")
    assert len(removed) == 1
    assert b.father.profile.account_id in removed[0][0]
    assert "consent-withdrawn" in removed[0][1]
    # Nobody can approve them back in: the therapist invites them anew.
    for guardian in (b.mother, b.father):
        with pytest.raises(ClientError) as err:
            await guardian.consent(b.id, me, "approve")
        assert err.value.code == "consent-closed"


async def test_a_guardian_can_decline_before_the_caregiver_joins(world: World) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    await b.mother.consent(b.id, me, "withdraw")
    with pytest.raises(ClientError) as err:
        await b.father.consent(b.id, me, "approve")
    assert err.value.code == "consent-closed"
    assert await _problem(world, b.daycare, "GET", f"/api/booklets/{b.id}/entries") == (
        404, "not-found")


def _record(b: Booklet, signer: Client, *, booklet: bytes | None = None,
            caregiver: bytes | None = None, caregiver_ik: bytes | None = None,
            until: int = UNTIL_MS, scope: int = consent.SCOPE_NEW,
            action: int = consent.APPROVE) -> str:
    return b64e(consent.seal_consent(
        signer._me(), action=action, booklet_id=booklet or bytes.fromhex(b.id),
        caregiver_id=caregiver or bytes.fromhex(b.daycare.profile.account_id),
        caregiver_identity_key=caregiver_ik or b.daycare._me().identity_public,
        until=until, scope=scope, created_at=1))


def _resigned(signer: Client, unsigned: bytes) -> str:
    return b64e(unsigned + sign(signer._me().identity, labels.CONSENT_SIGNATURE, unsigned))


async def test_every_bad_record_is_refused_and_nothing_is_stored(world: World) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    path = f"/api/booklets/{b.id}/caregivers/{me}/consents"
    good = _record(b, b.mother)
    raw = bytearray(consent.seal_consent(
        b.mother._me(), action=consent.APPROVE, booklet_id=bytes.fromhex(b.id),
        caregiver_id=bytes.fromhex(me), caregiver_identity_key=b.daycare._me().identity_public,
        until=UNTIL_MS, scope=consent.SCOPE_NEW, created_at=1))
    raw[-1] ^= 1
    mother_named = bytes(raw[:21]) + bytes.fromhex(b.mother.profile.account_id) + bytes(
        raw[37:consent.SIGNED_LENGTH])  # the guardian_id field, bytes 21-36
    other = await b.therapist.create_booklet("Eino")
    cases: list[tuple[Client, str, tuple[int, str], str | None]] = [
        (b.mother, b64e(bytes(raw)), (422, "protocol-rejected"), "bad-signature"),
        (b.mother, good[:-4], (422, "protocol-rejected"), "truncated"),
        (b.mother, _record(b, b.mother, booklet=bytes.fromhex(other)),
         (422, "protocol-rejected"), "wrong-booklet"),
        (b.mother, _record(b, b.mother, caregiver=bytes.fromhex(b.father.profile.account_id)),
         (422, "protocol-rejected"), "wrong-caregiver"),
        (b.mother, _record(b, b.mother, caregiver_ik=b.father._me().identity_public),
         (422, "protocol-rejected"), "caregiver-key-mismatch"),
        (b.mother, _record(b, b.mother, until=UNTIL_MS + 1), (422, "protocol-rejected"),
         "terms-mismatch"),
        (b.mother, _record(b, b.mother, scope=consent.SCOPE_HISTORY),
         (422, "protocol-rejected"), "terms-mismatch"),
        # The mother's record sent by the father fails under his key; signed by him but
        # naming her as the guardian, it is another author's.
        (b.father, good, (422, "protocol-rejected"), "bad-signature"),
        (b.father, _resigned(b.father, mother_named), (422, "protocol-rejected"),
         "wrong-author"),
        (b.therapist, _record(b, b.therapist), (403, "forbidden"), None),
        (b.daycare, _record(b, b.daycare), (403, "consent-pending"), None),
    ]
    for who, record, expected, code in cases:
        status, answer = await world.raw("POST", path, who.profile.token,
                                         json={"record": record})
        assert (status, answer["type"], answer.get("protocol_error")) == (*expected, code)
    stranger_booklet = await b.therapist.create_booklet("Vieras")
    stranger = await world.family(b.therapist, stranger_booklet, "vieras")
    assert await _problem(world, stranger, "POST", path, {"record": _record(b, stranger)}) == (
        404, "not-found")
    assert await _rows(world, "SELECT 1 FROM consent_records") == []

    assert (await world.raw("POST", path, b.mother.profile.token, json={"record": good}))[0] == 201
    assert await _problem(world, b.mother, "POST", path, {"record": good}) == (
        409, "consent-recorded")
    assert len(await _rows(world, "SELECT 1 FROM consent_records")) == 1
    assert _status(await b.mother.caregivers(b.id), me) == "pending_consent"

    await _later(world, b, 100 * DAY_S)  # the father approves too late
    assert await _problem(world, b.father, "POST", path, {"record": _record(b, b.father)}) == (
        403, "membership-expired")
    assert len(await _rows(world, "SELECT 1 FROM consent_records")) == 1
    assert await _problem(world, b.daycare, "GET", f"/api/booklets/{b.id}/entries") == (
        403, "membership-expired")


@pytest.mark.parametrize(("body", "field"), [
    ({"role": "caregiver", "until": "2025-12-31", "scope": "new"}, "until"),  # in the past
    ({"role": "caregiver", "until": "2026-02-30", "scope": "new"}, "until"),
    ({"role": "caregiver", "until": "period-end", "scope": "new"}, "until"),  # no period
    ({"role": "caregiver", "until": "huomenna", "scope": "new"}, "until"),
    ({"role": "caregiver", "scope": "new"}, "until"),
    ({"role": "caregiver", "until": "2026-03-31"}, "scope"),
    ({"role": "caregiver", "until": "2026-03-31", "scope": "all"}, "scope"),
    ({"role": "guardian", "until": "2026-03-31"}, "until"),
])
async def test_an_invitation_with_bad_terms_is_not_issued(
    world: World, body: dict[str, Any], field: str,
) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    status, answer = await world.raw("POST", f"/api/booklets/{booklet}/invitations",
                                     therapist.profile.token, json=body)
    assert (status, answer["type"]) == (422, "validation-failed")
    assert field in str(answer["errors"])
    assert await _rows(world, "SELECT 1 FROM invitations WHERE booklet_id IS NOT NULL") == []
    assert await _rows(world, "SELECT 1 FROM caregiver_terms") == []


async def test_until_period_end_is_the_end_of_the_current_therapy_period(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mother = await world.family(therapist, booklet, "aiti")
    await therapist.api.call("POST", f"/api/booklets/{booklet}/period", {
        "start": "2026-01-01", "end": "2026-06-30", "sessions_granted": 40, "payer": "kela"})
    daycare = await _caregiver(world, therapist, booklet, until="period-end", scope="history")
    row = (await mother.caregivers(booklet))[0]
    assert (row["account_id"], row["until"], row["scope"]) == (
        daycare.profile.account_id, "2026-06-30T21:00:00.000+00:00", "history")


async def test_a_client_refuses_to_seal_to_a_caregiver_the_server_added_by_itself(
    world: World,
) -> None:
    """A malicious server makes the caregiver a member without the guardians' records: the
    guardians' and therapist's clients refuse to post (nothing sealed), and to grant history."""
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    await b.mother.consent(b.id, me, "approve")  # the father never does
    await world.server_sql(
        "INSERT INTO members (booklet_id, account_id, role, joined_at_ms, joined_seq)"
        " SELECT id, ?, 'caregiver', 0, last_seq FROM booklets WHERE id = ?",
        bytes.fromhex(me), bytes.fromhex(b.id))
    await world.server_sql("UPDATE caregiver_terms SET status = 'active'")
    before = await _rows(world, "SELECT COUNT(*) FROM entries")
    for writer in (b.mother, b.father, b.therapist):
        with pytest.raises(ClientError) as err:
            await writer.post(b.id, "note", text="salainen")
        assert err.value.code == "consent-missing"
        assert b.father.profile.account_id in (err.value.detail or "")
    with pytest.raises(ClientError) as err:
        await b.therapist.grant_history(b.id, me, {"title"})
    assert err.value.code == "consent-missing"
    assert await _rows(world, "SELECT COUNT(*) FROM entries") == before


async def test_the_guardians_consent_does_not_stand_in_for_the_roster(world: World) -> None:
    """Both checks apply before sealing (protocol §5.1, §6.6). The consent comes first (a
    caregiver without it is refused as consent-missing even outside the roster: the test
    above); with both guardians' approval, the caregiver the therapist has not yet signed
    into the roster is still refused, even with unverified members allowed, and nothing is
    stored; once the therapist confirms her, the note goes out and she reads it."""
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    await b.mother.consent(b.id, me, "approve")
    await b.father.consent(b.id, me, "approve")
    before = await _rows(world, "SELECT COUNT(*) FROM entries")
    with pytest.raises(ClientError) as err:
        await b.mother.post(b.id, "note", text="hei", allow_unverified=True)
    assert err.value.code == "roster-refused"
    assert me in str(err.value.detail) + str(err.value.extra)
    assert b.mother.rosters[b.id].refused == {me: "not-in-roster"}
    assert await _rows(world, "SELECT COUNT(*) FROM entries") == before
    await b.therapist.roster(b.id, confirm=[me])
    await b.mother.post(b.id, "note", text="hei", allow_unverified=True)
    assert [e.payload.get("text") for e in await b.daycare.read(b.id)][-1:] == ["hei"]


async def test_a_client_stops_sealing_at_the_consented_end_on_its_own_clock(
    world: World,
) -> None:
    """A server that never ends the membership: the writer's clock past the time the guardians
    signed is enough to refuse."""
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, me, "approve")
    b.mother.now_ms = lambda: UNTIL_MS + 1
    with pytest.raises(ClientError) as err:
        await b.mother.post(b.id, "note", text="myöhässä")
    assert err.value.code == "membership-expired"


async def test_new_entries_only_means_no_history_beyond_the_title(world: World) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, me, "approve")
    assert await b.therapist.grant_history(b.id, me, {"title"}) == 1
    with pytest.raises(ClientError) as err:
        await b.therapist.grant_history(b.id, me, {"note"})
    assert err.value.code == "consent-scope"


async def test_history_scope_reuses_the_history_grant(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mother = await world.family(therapist, booklet, "aiti")
    await therapist.post(booklet, "note", text="aiempi")
    daycare = await _caregiver(world, therapist, booklet, scope="history")
    await mother.consent(booklet, daycare.profile.account_id, "approve")
    # Her link carried no trust: the therapist's client signs her into the roster (§6.6).
    await therapist.roster(booklet, confirm=[daycare.profile.account_id])
    assert await mother.grant_history(booklet, daycare.profile.account_id, {"note"}) == 1
    assert [e.payload["text"] for e in await daycare.read(booklet, kinds={"note"})
            if not e.error] == ["aiempi"]


async def test_an_existing_caregiver_account_accepting_a_link_waits_for_consent_too(
    world: World,
) -> None:
    b = await _booklet(world)
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, b.daycare.profile.account_id, "approve")
    other = await b.therapist.create_booklet("Eino")
    await world.family(b.therapist, other, "eino-aiti")
    link = (await b.therapist.invite(other, "caregiver", until="2026-02-28",
                                     scope="new"))["link"]
    assert await b.daycare.accept(world.base + link[link.index("/enroll/"):]) == other
    assert await _problem(world, b.daycare, "GET", f"/api/booklets/{other}/entries") == (
        403, "consent-pending")
    assert await b.daycare.read(b.id) is not None  # the first booklet is unaffected


async def _listen(world: World, who: Client) -> Any:
    ws = await world.http.ws_connect("/api/live")
    await ws.send_json({"token": who.profile.token})
    assert (await ws.receive_json(timeout=5))["type"] == "ready"
    return ws


async def test_members_get_a_live_event_when_a_caregiver_joins_leaves_or_expires(
    world: World,
) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    therapist_ws, daycare_ws = await _listen(world, b.therapist), await _listen(world, b.daycare)
    await b.mother.consent(b.id, me, "approve")
    await b.father.consent(b.id, me, "approve")
    joined = {"type": "member", "booklet_id": b.id, "account_id": me, "change": "joined"}
    assert await therapist_ws.receive_json(timeout=5) == joined
    assert await daycare_ws.receive_json(timeout=5) == joined
    await b.mother.consent(b.id, me, "withdraw")
    assert await therapist_ws.receive_json(timeout=5) == {**joined, "change": "withdrawn"}
    # The caregiver's own socket is also told that she is no longer a member ("removed").
    seen = [await daycare_ws.receive_json(timeout=5) for _ in range(2)]
    assert {**joined, "change": "withdrawn"} in seen
    assert {"type": "removed", "booklet_id": b.id} in seen

    second = await _caregiver_again(world, b)
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, second, "approve")
    assert (await therapist_ws.receive_json(timeout=5))["change"] == "joined"
    world.clock.advance(UNTIL_MS / 1000 - world.clock.now_ms() / 1000 + 1)
    runtime = world.http.app[SERVICES]
    assert await caregiver_membership.expire_due(runtime.booklets, runtime.booklets.hub) == 1
    assert await therapist_ws.receive_json(timeout=5) == {
        "type": "member", "booklet_id": b.id, "account_id": second, "change": "expired"}
    for ws in (therapist_ws, daycare_ws):
        await ws.close()


async def _caregiver_again(world: World, b: Booklet) -> str:
    link = (await b.therapist.invite(b.id, "caregiver", name="Koulu", until=UNTIL,
                                     scope="new"))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], "koulu", PASSWORD)
    return client.profile.account_id
