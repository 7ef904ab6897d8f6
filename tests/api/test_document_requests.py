"""Document requests (issue 17, item 2) on the in-process server with the Python client: a
guardian asks for the statement, the therapist sees it in the booklet and on her desk, her
statement document names the request, the request is done and the family's notice is queued
in the same transaction, and that notice says only "a new message". Every bad input is a named
problem that changes nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from secure_msg.client import Client
from secure_msg.client.http import ClientError
from secure_msg.model.document_requests import MAX_OPEN_PER_BOOKLET
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.services import retention_service
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import notices as notice_store
from secure_msg.storage.txn import Txn
from secure_msg.web.services import SERVICES

from ..model.test_notice_templates import FORBIDDEN
from .conftest import PASSWORD, World

MUM_PHONE = "+358401112222"
PDF = "JVBERi0xLjQKJeLjz9MK"  # "%PDF-1.4" and a binary comment, base64


async def _join(world: World, therapist: Client, booklet: str, name: str, role: str = "guardian",
                phone: str | None = None, approvers: tuple[Client, ...] = ()) -> Client:
    """A member; a caregiver comes with terms and every guardian's approval (`approvers`)."""
    terms = {"until": "2099-12-31", "scope": "new"} if role == "caregiver" else {}
    link = (await therapist.invite(booklet, role, name=name, phone=phone, **terms))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], name, PASSWORD)
    for guardian in approvers:
        await guardian.consent(booklet, client.profile.account_id, "approve")
    if role == "caregiver" and approvers:  # her plain link: the therapist signs her in (§6.6)
        await therapist.roster(booklet, confirm=[client.profile.account_id])
    return client


async def _rows(world: World, sql: str, *params: object) -> list[tuple[Any, ...]]:
    def read(conn: Txn) -> list[tuple[Any, ...]]:
        return list(conn.execute(sql, params).fetchall())

    return await world.http.app[SERVICES].db.read(read)


async def _snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a refused request or post could have changed."""
    return {table: await _rows(world, f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608
            for table in ("document_requests", "entries", "notices", "booklets", "blobs")}


async def _statement(therapist: Client, booklet: str, request: str | None) -> dict[str, Any]:
    return await therapist.post(booklet, "document", name="lausunto.pdf",
                                media_type="application/pdf", data=PDF, fulfils_request=request)


async def _queued_texts(world: World) -> list[tuple[str, str, str, str]]:
    """(dedupe key, channel, address, text) of every queued notice, rendered as the outbox
    would send it: claimed a day ahead, so quiet hours do not hide any."""
    s = world.http.app[SERVICES]
    later = world.clock.now_ms() + 86_400_000

    def claim(conn: Txn) -> list[Any]:
        return notice_store.claim_due_txn(conn, s.vault, later, 100, 60_000, ["sms", "email"])

    claimed = await s.db.write(claim)
    return [(n.dedupe_key, n.channel.value, n.address,
             s.notices.renderer.render(n.kind, n.language, dict(n.slots))) for n in claimed]


async def test_asked_seen_fulfilled_and_the_family_told_neutrally(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    other = await therapist.create_booklet("Eino")  # her caseload spans booklets
    mum = await _join(world, therapist, booklet, "aiti", phone=MUM_PHONE)
    eino_mum = await _join(world, therapist, other, "einon-aiti")
    stranger = await world.therapist("toinen")
    strangers_booklet = await stranger.create_booklet("Muu")
    strangers_mum = await _join(world, stranger, strangers_booklet, "muu-aiti")
    base = f"/api/booklets/{booklet}/document-requests"

    status, asked = await world.raw("POST", base, mum.profile.token,
                                    json={"kind": "statement", "due": "2026-02-15"})
    assert status == 201, asked
    assert (asked["kind"], asked["status"], asked["due"], asked["requester_id"]) == (
        "statement", "open", "2026-02-15", mum.profile.account_id)
    assert (asked["done_by_seq"], asked["closed_by"], asked["closed_at"]) == (None, None, None)
    status, _ = await world.raw("POST", f"/api/booklets/{other}/document-requests",
                                eino_mum.profile.token, json={"kind": "plan"})
    assert status == 201
    status, _ = await world.raw("POST", f"/api/booklets/{strangers_booklet}/document-requests",
                                strangers_mum.profile.token, json={"kind": "statement"})
    assert status == 201

    status, listed = await world.raw("GET", base, therapist.profile.token)
    assert (status, listed) == (200, {"requests": [asked]})
    status, desk = await world.raw("GET", "/api/me/document-requests", therapist.profile.token)
    assert status == 200
    assert sorted((r["booklet_id"], r["kind"]) for r in desk["requests"]) == sorted(
        [(booklet, "statement"), (other, "plan")])  # not the other therapist's booklet

    posted = await _statement(therapist, booklet, asked["id"])
    status, listed = await world.raw("GET", base, therapist.profile.token)
    assert (status, listed) == (200, {"requests": []})  # open ones only
    status, listed = await world.raw("GET", f"{base}?all=1", mum.profile.token)
    done = listed["requests"][0]
    assert (done["status"], done["done_by_seq"], done["closed_by"]) == (
        "done", posted["seq"], therapist.profile.account_id)
    assert done["closed_at"] == "2026-01-01T00:00:00.000+00:00"
    status, desk = await world.raw("GET", "/api/me/document-requests", therapist.profile.token)
    assert [r["booklet_id"] for r in desk["requests"]] == [other]

    entries = await mum.read(booklet)
    assert [e.payload.get("name") for e in entries if e.kind == "document"] == ["lausunto.pdf"]

    # The family's notice: one SMS to the guardian, the neutral new-message text.
    queued = await _queued_texts(world)
    assert [(k, ch, to) for k, ch, to, _ in queued] == [
        (f"docreq:{asked['id']}:{mum.profile.account_id}", "sms", MUM_PHONE)]
    text = queued[0][3]
    link = f"{world.http.app[SERVICES].notices.public_base_url.rstrip('/')}/"
    assert text == world.http.app[SERVICES].notices.renderer.render(
        NoticeKind.NEW_ENTRY_PING, Language.FI, {"link": link})  # she enrolled in Finnish
    lowered = text.casefold()
    assert not any(word in lowered for word in FORBIDDEN), text
    for secret in ("lausunto", "statement", "utlåtande", "pdf", "document", "asiakirja"):
        assert secret not in lowered, text

    audit = await _rows(world, "SELECT actor, action FROM audit_events WHERE target = ?",
                        f"booklet:{booklet}")
    assert (f"account:{mum.profile.account_id}", "document_request.created") in audit
    assert (f"account:{therapist.profile.account_id}", "document_request.done") in audit
    status, log = await world.raw("GET", f"/api/booklets/{booklet}/access-log",
                                  mum.profile.token)
    assert status == 200
    assert {"document_request.created", "document_request.done"} <= {
        i["action"] for i in log["items"]}


async def test_every_bad_request_is_a_named_problem_and_changes_nothing(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await _join(world, therapist, booklet, "aiti", phone=MUM_PHONE)
    daycare = await _join(world, therapist, booklet, "paivakoti", role="caregiver",
                          approvers=(mum,))
    stranger = await world.therapist("toinen")
    base = f"/api/booklets/{booklet}/document-requests"
    status, asked = await world.raw("POST", base, mum.profile.token, json={"kind": "statement"})
    assert status == 201
    before = await _snapshot(world)

    refusals: list[tuple[str, str, str, str | None, dict[str, Any] | None, int, str]] = [
        ("caregiver asks", "POST", base, daycare.profile.token, {"kind": "statement"},
         403, "forbidden"),
        ("therapist asks", "POST", base, therapist.profile.token, {"kind": "plan"},
         403, "forbidden"),
        ("non-member asks", "POST", base, stranger.profile.token, {"kind": "plan"},
         404, "not-found"),
        ("nobody asks", "POST", base, None, {"kind": "plan"}, 401, "unauthorized"),
        ("free-text kind", "POST", base, mum.profile.token, {"kind": "lausunto lääkärille"},
         422, "validation-failed"),
        ("due not a day", "POST", base, mum.profile.token, {"kind": "plan", "due": "soon"},
         422, "validation-failed"),
        ("due in year 1", "POST", base, mum.profile.token, {"kind": "plan", "due": "0001-01-01"},
         422, "validation-failed"),
        ("non-member lists", "GET", base, stranger.profile.token, None, 404, "not-found"),
        ("guardian's desk", "GET", "/api/me/document-requests", mum.profile.token, None,
         403, "forbidden"),
        ("caregiver withdraws", "POST", f"{base}/{asked['id']}/withdraw",
         daycare.profile.token, None, 403, "forbidden"),
        ("non-member withdraws", "POST", f"{base}/{asked['id']}/withdraw",
         stranger.profile.token, None, 404, "not-found"),
        ("therapist moves the due day", "PATCH", f"{base}/{asked['id']}",
         therapist.profile.token, {"due": "2026-03-01"}, 403, "forbidden"),
        ("no such request", "POST", f"{base}/{'0' * 32}/withdraw", mum.profile.token, None,
         404, "not-found"),
    ]
    for name, method, path, token, body, want_status, want_type in refusals:
        status, problem = await world.raw(method, path, token,
                                          **({"json": body} if body is not None else {}))
        assert (status, problem.get("type")) == (want_status, want_type), (name, problem)
    assert await _snapshot(world) == before

    # A booklet's open requests are capped: the eleventh is refused, nothing stored.
    for _ in range(MAX_OPEN_PER_BOOKLET - 1):
        status, _ = await world.raw("POST", base, mum.profile.token, json={"kind": "other"})
        assert status == 201
    full = await _snapshot(world)
    status, problem = await world.raw("POST", base, mum.profile.token, json={"kind": "plan"})
    assert (status, problem["type"]) == (409, "too-many-open-requests")
    assert await _snapshot(world) == full
    before = full

    # Posting the document: only the therapist's document entry fulfils a request.
    with pytest.raises(ClientError) as refused:
        await mum.post(booklet, "document", name="a.pdf", media_type="application/pdf",
                       data=PDF, fulfils_request=asked["id"])
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    with pytest.raises(ClientError) as refused:
        await therapist.post(booklet, "note", text="Tulossa", fulfils_request=asked["id"])
    assert (refused.value.status, refused.value.code) == (422, "validation-failed")
    with pytest.raises(ClientError) as refused:
        await _statement(therapist, booklet, "f" * 32)
    assert (refused.value.status, refused.value.code) == (422, "document-request-unknown")
    assert await _snapshot(world) == before


async def test_another_booklets_request_and_a_second_fulfilment_are_refused(
    world: World,
) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    other = await therapist.create_booklet("Eino")
    mum = await _join(world, therapist, booklet, "aiti", phone=MUM_PHONE)
    eino_mum = await _join(world, therapist, other, "einon-aiti", phone="+358401113333")
    status, theirs = await world.raw("POST", f"/api/booklets/{other}/document-requests",
                                     eino_mum.profile.token, json={"kind": "statement"})
    assert status == 201
    status, ours = await world.raw("POST", f"/api/booklets/{booklet}/document-requests",
                                   mum.profile.token, json={"kind": "statement"})
    assert status == 201
    before = await _snapshot(world)

    with pytest.raises(ClientError) as refused:  # the same therapist, the wrong booklet
        await _statement(therapist, booklet, theirs["id"])
    assert (refused.value.status, refused.value.code) == (422, "document-request-unknown")
    assert await _snapshot(world) == before

    await _statement(therapist, booklet, ours["id"])
    once = await _snapshot(world)
    with pytest.raises(ClientError) as refused:
        await _statement(therapist, booklet, ours["id"])
    assert (refused.value.status, refused.value.code) == (409, "document-request-not-open")
    assert await _snapshot(world) == once
    status, problem = await world.raw(
        "POST", f"/api/booklets/{booklet}/document-requests/{ours['id']}/withdraw",
        mum.profile.token)
    assert (status, problem["type"]) == (409, "document-request-not-open")
    assert await _snapshot(world) == once
    # Only our family was told, once.
    assert [k for k, *_ in await _queued_texts(world)] == [
        f"docreq:{ours['id']}:{mum.profile.account_id}"]


async def test_withdrawn_and_moved_requests(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await _join(world, therapist, booklet, "aiti")
    dad = await _join(world, therapist, booklet, "isa")
    base = f"/api/booklets/{booklet}/document-requests"
    status, asked = await world.raw("POST", base, mum.profile.token, json={"kind": "other"})
    assert status == 201
    status, moved = await world.raw("PATCH", f"{base}/{asked['id']}", dad.profile.token,
                                    json={"due": "2026-03-01"})
    assert (status, moved["due"]) == (200, "2026-03-01")
    status, moved = await world.raw("PATCH", f"{base}/{asked['id']}", mum.profile.token,
                                    json={"due": None})
    assert (status, moved["due"]) == (200, None)
    status, withdrawn = await world.raw("POST", f"{base}/{asked['id']}/withdraw",
                                        therapist.profile.token)
    assert status == 200
    assert (withdrawn["status"], withdrawn["closed_by"]) == (
        "withdrawn", therapist.profile.account_id)
    before = await _snapshot(world)
    status, problem = await world.raw("PATCH", f"{base}/{asked['id']}", mum.profile.token,
                                      json={"due": "2026-03-01"})
    assert (status, problem["type"]) == (409, "document-request-not-open")
    with pytest.raises(ClientError) as refused:
        await _statement(therapist, booklet, asked["id"])
    assert (refused.value.status, refused.value.code) == (409, "document-request-not-open")
    assert await _snapshot(world) == before
    assert await _queued_texts(world) == []


async def test_a_closed_booklet_takes_no_request_and_no_change(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await _join(world, therapist, booklet, "aiti", phone=MUM_PHONE)
    base = f"/api/booklets/{booklet}/document-requests"
    status, asked = await world.raw("POST", base, mum.profile.token, json={"kind": "statement"})
    assert status == 201
    status, _ = await world.raw("POST", f"/api/booklets/{booklet}/close", therapist.profile.token)
    assert status == 200
    before = await _snapshot(world)
    for method, path, token, body in (
            ("POST", base, mum.profile.token, {"kind": "plan"}),
            ("PATCH", f"{base}/{asked['id']}", mum.profile.token, {"due": "2026-03-01"}),
            ("POST", f"{base}/{asked['id']}/withdraw", mum.profile.token, None),
            ("POST", f"{base}/{asked['id']}/withdraw", therapist.profile.token, None)):
        status, problem = await world.raw(method, path, token,
                                          **({"json": body} if body is not None else {}))
        assert (status, problem["type"]) == (409, "booklet-closed"), (method, path)
    with pytest.raises(ClientError) as refused:
        await _statement(therapist, booklet, asked["id"])
    assert (refused.value.status, refused.value.code) == (409, "booklet-closed")
    assert await _snapshot(world) == before
    status, listed = await world.raw("GET", base, mum.profile.token)  # reading goes on
    assert (status, [r["status"] for r in listed["requests"]]) == (200, ["open"])


async def test_the_purge_takes_a_booklets_requests_with_it(world: World) -> None:
    """A purged booklet leaves no request behind, a fulfilled one (which names an entry)
    included, and the other booklet's stay."""
    therapist = await world.therapist()
    gone = await therapist.create_booklet("Aino")
    kept = await therapist.create_booklet("Eino")
    mum = await _join(world, therapist, gone, "aiti", phone=MUM_PHONE)
    eino_mum = await _join(world, therapist, kept, "einon-aiti")
    ids = []
    for who, booklet in ((mum, gone), (mum, gone), (eino_mum, kept)):
        status, asked = await world.raw("POST", f"/api/booklets/{booklet}/document-requests",
                                        who.profile.token, json={"kind": "statement"})
        assert status == 201
        ids.append(asked["id"])
    await _statement(therapist, gone, ids[0])  # one done, one still open
    status, _ = await world.raw("POST", f"/api/booklets/{gone}/close", therapist.profile.token)
    assert status == 200
    s = world.http.app[SERVICES]
    for _ in range(3):  # closed → reminded → purged, each step a year's tick apart at most
        world.clock.advance(366 * 86_400)
        await retention_service.tick(s.retention)
    left = await s.db.read(lambda conn: lifecycle_store.tables_naming_txn(
        conn, bytes.fromhex(gone)))
    assert left == []
    assert await _rows(world, "SELECT booklet_id, status FROM document_requests") == [
        (bytes.fromhex(kept), "open")]


async def test_a_guardian_without_a_number_is_told_by_email_in_her_language(
    world: World,
) -> None:
    """With e-mail on, a guardian with no phone number gets the notice by e-mail, in the
    language she enrolled in; a caregiver (not family) gets nothing from the request."""
    s = world.http.app[SERVICES]
    s.entries = dataclasses.replace(
        s.entries, requests=dataclasses.replace(s.notices, email_enabled=True))
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    link = (await therapist.invite(booklet, "guardian", name="Pappa",
                                   email="pappa@example.org"))["link"]
    dad = world.new_client()
    await dad.enroll(world.base + link[link.index("/enroll/"):], "pappa", PASSWORD,
                     language="sv")
    await _join(world, therapist, booklet, "paivakoti", role="caregiver", phone="+358401114444",
                approvers=(dad,))
    status, asked = await world.raw("POST", f"/api/booklets/{booklet}/document-requests",
                                    dad.profile.token, json={"kind": "plan"})
    assert status == 201
    await _statement(therapist, booklet, asked["id"])
    [(key, channel, address, text)] = await _queued_texts(world)
    assert (key, channel, address) == (
        f"docreq:{asked['id']}:{dad.profile.account_id}", "email", "pappa@example.org")
    link = f"{s.notices.public_base_url.rstrip('/')}/"
    assert text == s.notices.renderer.render(NoticeKind.NEW_ENTRY_PING, Language.SV,
                                             {"link": link})
    assert not any(word in text.casefold() for word in (*FORBIDDEN, "plan", "dokument"))
