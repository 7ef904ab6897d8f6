"""A booklet's access log (issue 17 item 5) through the API on a real database: what members
see, what they never see, paging, the export record, and the chain still verifying."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from secure_msg.client import Client
from secure_msg.client import access_log as client_log
from secure_msg.model.access_log import parse_ranges
from secure_msg.services import access_log
from secure_msg.storage import audit as audit_store
from secure_msg.web.services import SERVICES

from .conftest import World


async def _flush(world: World) -> None:
    await world.http.app[SERVICES].entries.fetch_audit.flush()


async def _log(world: World, who: Client, booklet: str, **params: Any) -> list[dict[str, Any]]:
    await _flush(world)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, body = await world.raw(
        "GET", f"/api/booklets/{booklet}/access-log?{query}", who.profile.token)
    assert status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


async def _operator_audit(world: World) -> list[Any]:
    db = world.http.app[SERVICES].db
    return await db.read(functools.partial(audit_store.latest_events_txn, limit=1000))


async def _booklet_with_caregiver(world: World) -> tuple[Client, Client, Client, str]:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    carer = await world.family(therapist, booklet, "paivakoti", role="caregiver")
    return therapist, mum, carer, booklet


async def test_a_caregivers_reads_show_in_a_guardians_log(world: World) -> None:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti")
    for n in range(3):
        await therapist.post(booklet, "note", text=f"viesti {n}")  # seqs 2-4
    carer = await world.family(therapist, booklet, "paivakoti", role="caregiver")  # title only
    posted = await therapist.post(booklet, "note", text="viesti 3")  # seq 5
    assert posted["seq"] == 5
    read = await carer.read(booklet)
    assert [e.seq for e in read] == [1, 5]  # the title by grant, then the new one

    items = await _log(world, mum, booklet)
    carer_id, mum_id = carer.profile.account_id, mum.profile.account_id
    fetched = [i for i in items if i["action"] == "entries.fetched" and i["actor"] == carer_id]
    assert fetched, items
    assert {s for i in fetched for s in parse_ranges(i["detail"]["ranges"])} == {1, 5}
    assert fetched[0]["detail"]["ranges"] == "1,5"  # one event for the page, gaps kept
    joined = {i["actor"]: i["detail"] for i in items if i["action"] == "member.joined"}
    assert joined[carer_id]["role"] == "caregiver"
    assert joined[carer_id]["invited_by"] == therapist.profile.account_id
    grants = [i["detail"]["grantee"] for i in items if i["action"] == "history.granted"]
    assert set(grants) == {carer_id, mum_id}
    seqs = [i["seq"] for i in items]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert all(client_log.hash_ok(i) for i in items)
    # The CLI's and CSV's view: names from the members list.
    rows = client_log.rows(items, await mum.members(booklet, include_removed=True))
    assert any(r.who == "paivakoti" and r.what == "read 2 entries (1,5)" for r in rows)


async def test_a_non_members_refused_fetch_is_for_the_operator_only(world: World) -> None:
    therapist, mum, _, booklet = await _booklet_with_caregiver(world)
    stranger_therapist = await world.therapist("toinen")
    await stranger_therapist.create_booklet("Eino")
    stranger = stranger_therapist.profile.account_id
    status, _ = await world.raw("GET", f"/api/booklets/{booklet}/entries",
                                stranger_therapist.profile.token)
    assert status == 404
    status, _ = await world.raw("GET", f"/api/booklets/{booklet}/access-log",
                                stranger_therapist.profile.token)
    assert status == 404
    items = await _log(world, mum, booklet)
    assert stranger not in {i["actor"] for i in items}
    assert all(not i["action"].endswith("refused") for i in items)
    refused = [e for e in await _operator_audit(world) if e.action == "entries.fetch_refused"]
    assert [(e.actor, e.target) for e in refused] == [
        (f"account:{stranger}", f"booklet:{booklet}")]
    # A removed member is a non-member too: no log for them.
    await therapist.remove(booklet, mum.profile.account_id)
    status, _ = await world.raw("GET", f"/api/booklets/{booklet}/access-log", mum.profile.token)
    assert status == 404
    assert (await audit_store.verify(world.http.app[SERVICES].db)).ok


async def test_another_booklets_events_never_show(world: World) -> None:
    therapist, mum, carer, booklet = await _booklet_with_caregiver(world)
    other = await therapist.create_booklet("Eino")
    other_mum = await world.family(therapist, other, "eino-aiti")
    await therapist.post(other, "note", text="toinen")
    await other_mum.read(other)
    await carer.read(booklet)
    await world.raw("POST", f"/api/booklets/{other}/exports", other_mum.profile.token,
                    json={"kind": "booklet"})
    items = await _log(world, mum, booklet)
    assert items
    assert {i["target"] for i in items} == {f"booklet:{booklet}"}
    assert other_mum.profile.account_id not in {i["actor"] for i in items}
    other_items = await _log(world, other_mum, other)
    assert {i["target"] for i in other_items} == {f"booklet:{other}"}
    assert carer.profile.account_id not in {i["actor"] for i in other_items}
    # Appointment or notice events about the booklet are not access: not listed.
    assert {i["action"] for i in items} <= {
        "booklet.created", "member.joined", "history.granted", "entry.posted",
        "entries.fetched", "consent.approved"}


async def test_paging_walks_the_whole_log_once(world: World) -> None:
    therapist, mum, carer, booklet = await _booklet_with_caregiver(world)
    for n in range(4):
        await therapist.post(booklet, "note", text=f"{n}")
        await carer.read(booklet)
    everything = await _log(world, mum, booklet, limit=200)
    assert len(everything) > 10
    seen: list[int] = []
    cursor: int | None = None
    pages = 0
    while True:
        params = f"limit=3&cursor={cursor}" if cursor else "limit=3"
        status, body = await world.raw(
            "GET", f"/api/booklets/{booklet}/access-log?{params}", mum.profile.token)
        assert status == 200
        assert len(body["items"]) <= 3
        seen += [i["seq"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert cursor == body["items"][-1]["seq"]
    assert seen == [i["seq"] for i in everything]
    assert pages == -(-len(everything) // 3)
    # The client walks the same pages.
    assert [i["seq"] for i in await client_log.fetch(mum, booklet, page_size=4)] == seen


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "cursor=0", "cursor=x", "limit=-1",
                                   "cursor=1e3"])
async def test_bad_paging_is_refused(world: World, query: str) -> None:
    _, mum, _, booklet = await _booklet_with_caregiver(world)
    status, body = await world.raw(
        "GET", f"/api/booklets/{booklet}/access-log?{query}", mum.profile.token)
    assert status == 422, body
    assert body["type"] == "validation-failed"


async def test_an_export_is_recorded_and_shown(world: World) -> None:
    _, mum, carer, booklet = await _booklet_with_caregiver(world)
    recorded = await client_log.record_export(carer, booklet, "booklet", entries=12)
    items = await _log(world, mum, booklet)
    exported = [i for i in items if i["action"] == "booklet.exported"]
    assert [(i["seq"], i["actor"], i["detail"]) for i in exported] == [
        (recorded["seq"], carer.profile.account_id, {"kind": "booklet", "entries": 12})]
    assert (await audit_store.verify(world.http.app[SERVICES].db)).ok


@pytest.mark.parametrize("body", [{"kind": "pdf"}, {}, {"kind": "booklet", "entries": -1},
                                  {"kind": "booklet", "entries": 1.5}, {"kind": 3},
                                  {"kind": None}])
async def test_a_bad_export_record_is_refused_and_nothing_stored(
    world: World, body: dict[str, Any]
) -> None:
    _, mum, _, booklet = await _booklet_with_caregiver(world)
    before = len(await _operator_audit(world))
    status, problem = await world.raw(
        "POST", f"/api/booklets/{booklet}/exports", mum.profile.token, json=body)
    assert status in (400, 422), problem
    assert problem["type"] in ("validation-failed", "invalid-json", "unknown-field")
    assert len(await _operator_audit(world)) == before


async def test_a_non_member_cannot_record_an_export(world: World) -> None:
    _, _, _, booklet = await _booklet_with_caregiver(world)
    outsider = await world.therapist("toinen")
    before = len(await _operator_audit(world))
    status, problem = await world.raw("POST", f"/api/booklets/{booklet}/exports",
                                      outsider.profile.token, json={"kind": "booklet"})
    assert (status, problem["type"]) == (404, "not-found")
    assert len(await _operator_audit(world)) == before


async def test_a_document_download_recorded_by_the_blob_store_shows(world: World) -> None:
    """The hook the document store calls (services.access_log.record_blob_read)."""
    _, mum, carer, booklet = await _booklet_with_caregiver(world)
    runtime = world.http.app[SERVICES]
    access_log.record_blob_read(
        runtime.entries.fetch_audit, runtime.clock, account_id=bytes.fromhex(
            carer.profile.account_id), booklet_id=bytes.fromhex(booklet), seq=1,
        blob_id="b" * 32, size=25 * 1024 * 1024)
    with pytest.raises(ValueError, match="opaque id"):
        access_log.record_blob_read(
            runtime.entries.fetch_audit, runtime.clock, account_id=b"\x01" * 16,
            booklet_id=bytes.fromhex(booklet), seq=1, blob_id="x" * 65)
    items = await _log(world, mum, booklet)
    [blob] = [i for i in items if i["action"] == "blob.fetched"]
    assert (blob["actor"], blob["detail"]) == (
        carer.profile.account_id, {"seq": 1, "blob": "b" * 32, "bytes": 25 * 1024 * 1024})
    rows = client_log.rows([blob], await mum.members(booklet, include_removed=True))
    assert rows[0].what == "downloaded a document of entry 1"
