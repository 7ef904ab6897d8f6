"""Sharing a document with someone outside the booklet (docs/protocol.md §4.8, §10.7) over the
real API: the Python client shares, the recipient opens with the link and the SMS code, and
every refusal is a named problem with nothing changed that should not be."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import Client, ClientError
from secure_msg.client.attachments import post_files
from secure_msg.client.shares import create_share, list_shares, open_link, revoke_share
from secure_msg.crypto import share
from secure_msg.model.shares import DAY_MS, DOWNLOAD_WINDOW_MS, MAX_FAILURES
from secure_msg.storage.notices import SEALED_PREFIX, SLOTS
from secure_msg.web.services import SERVICES

from .conftest import World

PHONE = "+358401234567"
DOCTOR = "+358409876543"


@pytest.fixture
async def shared(world: World, tmp_path: Path) -> tuple[Client, Client, str, int, bytes]:
    """A booklet with a therapist, a guardian and a document entry holding one PDF."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    data = os.urandom(150_000)
    path = tmp_path / "lausunto.pdf"
    path.write_bytes(data)
    posted = await post_files(therapist, booklet, [path], text="Lausunto")
    return therapist, mum, booklet, int(posted["seq"]), data


async def sms_codes(world: World) -> list[tuple[str, str]]:
    """(kind, code) of every queued share notice, its code opened with the server's vault."""
    services = world.http.app[SERVICES]

    def txn(conn: sqlite3.Connection) -> list[tuple[str, str]]:
        return conn.execute("SELECT kind, slots FROM notices WHERE kind = 'share_code'"
                            " ORDER BY id").fetchall()

    out = []
    for kind, slots in await services.db.read(txn):
        sealed = json.loads(slots)["code"]
        assert sealed.startswith(SEALED_PREFIX)  # never in the clear in the database
        blob = base64.b64decode(sealed[len(SEALED_PREFIX):])
        out.append((kind, json.loads(services.vault.open_text(SLOTS, blob))))
    return out


async def audit(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    def txn(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        return conn.execute("SELECT action, actor, detail FROM audit_events"
                            " WHERE action LIKE 'share.%' ORDER BY seq").fetchall()

    rows = await world.http.app[SERVICES].db.read(txn)
    return [(a, actor, json.loads(d)) for a, actor, d in rows]


async def test_a_doctor_opens_the_shared_file_once_with_link_and_code(
        world: World, shared: tuple[Client, Client, str, int, bytes]) -> None:
    therapist, mum, booklet, seq, data = shared
    made = await create_share(therapist, booklet, seq, DOCTOR)
    assert made.link.startswith(f"{world.base}/share/#")
    [(_, code)] = await sms_codes(world)
    opened = await open_link(world.http.session, made.link, code)
    assert (opened.data, opened.name, opened.media_type) == (data, "lausunto.pdf",
                                                             "application/pdf")
    # One-time: the second open is refused, and says why.
    with pytest.raises(ClientError) as err:
        await open_link(world.http.session, made.link, code)
    assert (err.value.status, err.value.code) == (410, "share-used")
    # The guardian sees it was shared and opened; refusals stay the operator's.
    items = await list_shares(mum, booklet)
    assert [(i["state"], i["opens"], i["to"]) for i in items] == [("used", 1, "543")]
    log = await mum.api.call("GET", f"/api/booklets/{booklet}/access-log")
    actions = [i["action"] for i in log["items"]]
    assert "share.created" in actions
    assert "share.opened" in actions
    assert "share.open_refused" not in actions
    sid = made.item["id"]
    assert [(a, d.get("share")) for a, _, d in await audit(world)] == [
        ("share.created", sid), ("share.opened", sid), ("share.open_refused", sid)]


async def test_wrong_codes_lock_the_share_for_good(
        world: World, shared: tuple[Client, Client, str, int, bytes]) -> None:
    therapist, _, booklet, seq, _ = shared
    made = await create_share(therapist, booklet, seq, DOCTOR)
    [(_, code)] = await sms_codes(world)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for left in range(MAX_FAILURES - 1, 0, -1):
        with pytest.raises(ClientError) as err:
            await open_link(world.http.session, made.link, wrong)
        assert (err.value.status, err.value.code) == (403, "share-code-wrong")
        assert err.value.extra.get("attempts_left") == left
    with pytest.raises(ClientError) as err:
        await open_link(world.http.session, made.link, wrong)
    assert err.value.code == "share-locked"
    # Locked: even the right code opens nothing now.
    with pytest.raises(ClientError) as err:
        await open_link(world.http.session, made.link, code)
    assert (err.value.status, err.value.code) == (410, "share-locked")
    [item] = await list_shares(therapist, booklet)
    assert (item["state"], item["opens"], item["failures"]) == ("locked", 0, MAX_FAILURES)


async def test_an_expired_or_withdrawn_share_opens_nothing(
        world: World, shared: tuple[Client, Client, str, int, bytes]) -> None:
    therapist, mum, booklet, seq, _ = shared
    first = await create_share(therapist, booklet, seq, DOCTOR, days=2)
    second = await create_share(therapist, booklet, seq, DOCTOR)
    codes = [c for _, c in await sms_codes(world)]
    revoked = await revoke_share(mum, booklet, second.item["id"])  # any guardian may
    assert (revoked["state"], revoked["revoked_by"]) == ("revoked", mum.profile.account_id)
    with pytest.raises(ClientError) as err:
        await open_link(world.http.session, second.link, codes[1])
    assert (err.value.status, err.value.code) == (410, "share-revoked")
    world.clock.advance(2 * DAY_MS / 1000)
    with pytest.raises(ClientError) as err:
        await open_link(world.http.session, first.link, codes[0])
    assert (err.value.status, err.value.code) == (410, "share-expired")


async def test_the_blob_is_given_only_after_an_open_and_for_a_while(
        world: World, shared: tuple[Client, Client, str, int, bytes]) -> None:
    therapist, _, booklet, seq, _ = shared
    made = await create_share(therapist, booklet, seq, DOCTOR, max_opens=2)
    [(_, code)] = await sms_codes(world)
    sid, secret = share.parse_fragment(made.link.split("#", 1)[1])
    token = base64.urlsafe_b64encode(share.derive(sid, secret, code).token).rstrip(b"=")
    body = {"token": token.decode()}
    status, problem = await world.raw("POST", f"/api/shares/{sid.hex()}/blob", json=body)
    assert (status, problem["type"]) == (403, "forbidden")  # not opened yet
    status, _ = await world.raw("POST", f"/api/shares/{sid.hex()}/open", json=body)
    assert status == 200
    async with world.http.post(f"/api/shares/{sid.hex()}/blob", json=body) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Disposition"] == "attachment"
        assert resp.headers["Cache-Control"] == "no-store"
    world.clock.advance(DOWNLOAD_WINDOW_MS / 1000)
    status, problem = await world.raw("POST", f"/api/shares/{sid.hex()}/blob", json=body)
    assert (status, problem["type"]) == (403, "forbidden")  # open again (a second open left)


def _flipped(sealed: bytes, at: int) -> str:
    """`sealed` with byte `at` inverted, as the API's unpadded base64url."""
    raw = bytearray(sealed)
    raw[at] ^= 0xFF
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


async def test_bad_shares_are_refused_and_nothing_is_stored(
        world: World, shared: tuple[Client, Client, str, int, bytes]) -> None:
    therapist, mum, booklet, seq, _ = shared
    nanny = await world.family(therapist, booklet, "hoitaja", role="caregiver")
    [blob_id] = await world.http.app[SERVICES].db.read(
        lambda conn: [r[0].hex() for r in conn.execute("SELECT id FROM blobs")])
    made = share.create(share.SharedFile(bytes.fromhex(booklet), share.Attachment(
        blob_id, bytes(16), bytes(32), "x.pdf", "application/pdf", 1, bytes(32))))
    good = {"id": made.share_id.hex(), "entry_seq": seq, "blob_id": blob_id,
            "sealed": base64.urlsafe_b64encode(made.sealed).rstrip(b"=").decode(),
            "verifier": base64.urlsafe_b64encode(made.keys.verifier).rstrip(b"=").decode(),
            "phone": DOCTOR, "code": made.code}
    other = share.create(share.SharedFile(bytes.fromhex(booklet), share.Attachment(
        blob_id, bytes(16), bytes(32), "x.pdf", "application/pdf", 1, bytes(32))))
    cases: list[tuple[Client, dict[str, Any], int, str]] = [
        (nanny, good, 403, "share-forbidden"),
        (therapist, {**good, "entry_seq": seq + 1}, 404, "not-found"),
        (therapist, {**good, "blob_id": "00" * 16}, 404, "not-found"),
        (therapist, {**good, "phone": "+35891234567"}, 422, "invalid-phone-number"),
        (therapist, {**good, "phone": "whatsapp:+358401234567"}, 422, "invalid-phone-number"),
        (therapist, {**good, "code": "1234567"}, 422, "validation-failed"),
        (therapist, {**good, "days": 31}, 422, "validation-failed"),
        (therapist, {**good, "max_opens": 0}, 422, "validation-failed"),
        (therapist, {**good, "verifier": "AAAA"}, 422, "validation-failed"),
        (therapist, {**good, "id": other.share_id.hex()}, 422, "protocol-rejected"),
        # the sealed record names another share id than `id` (its first byte flipped: the
        # base64 text rewritten could leave the bytes as they were, 1 time in 16), or is not
        # of type 0x51
        (therapist, {**good, "sealed": _flipped(made.sealed, 4)}, 422, "protocol-rejected"),
        (therapist, {**good, "sealed": _flipped(made.sealed, 3)}, 422, "protocol-rejected"),
    ]
    for who, body, status, code in cases:
        got, problem = await world.raw("POST", f"/api/booklets/{booklet}/shares",
                                       who.profile.token, json=body)
        assert (got, problem["type"]) == (status, code), (body, problem)
    assert await sms_codes(world) == []
    assert await audit(world) == []
    got, _ = await world.raw("POST", f"/api/booklets/{booklet}/shares", mum.profile.token,
                             json=good)
    assert got == 201  # a guardian may share
    got, problem = await world.raw("POST", f"/api/booklets/{booklet}/shares",
                                   therapist.profile.token, json=good)
    assert (got, problem["type"]) == (409, "share-exists")
    got, problem = await world.raw(
        "POST", f"/api/booklets/{booklet}/shares/{made.share_id.hex()}/revoke",
        nanny.profile.token)
    assert (got, problem["type"]) == (403, "share-forbidden")
    assert len(await sms_codes(world)) == 1


async def test_no_secret_of_a_share_is_in_the_database_or_the_logs(
        world: World, shared: tuple[Client, Client, str, int, bytes],
        caplog: pytest.LogCaptureFixture) -> None:
    """The link secret, the share key, the token and the file key never reach the server;
    the code is in the database only sealed by the vault."""
    caplog.set_level("DEBUG")
    therapist, _, booklet, seq, _ = shared
    made = await create_share(therapist, booklet, seq, DOCTOR)
    [(_, code)] = await sms_codes(world)
    await open_link(world.http.session, made.link, code)
    sid, secret = share.parse_fragment(made.link.split("#", 1)[1])
    keys = share.derive(sid, secret, code)
    db_path = world.http.app[SERVICES].config.storage.database_path
    raw = b"".join(p.read_bytes() for p in Path(db_path).parent.rglob("*") if p.is_file())
    raw += await world.stored_bytes()  # on PostgreSQL the rows are not under db_path
    assert bytes.fromhex(booklet) in raw  # the search sees the stored rows
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret_bytes in (secret, keys.key, keys.token):
        for form in (secret_bytes, secret_bytes.hex().encode(),
                     base64.urlsafe_b64encode(secret_bytes).rstrip(b"=")):
            assert form not in raw
            assert form.decode("latin-1") not in logs
    assert code.encode() not in raw
    assert code not in logs
