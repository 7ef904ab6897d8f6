"""Caregiver consent meets the booklet's lifecycle and its access log: a closed booklet takes no
consent (409 booklet-closed, nothing stored), the purge takes the terms and the signed records
with it, and the guardians see each consent, withdrawal and end in the booklet's access log."""

from __future__ import annotations

from typing import Any

import pytest

from secure_msg.client import Client, ClientError
from secure_msg.client import access_log as client_log
from secure_msg.services import retention_service
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.web.services import SERVICES

from .conftest import World
from .test_caregiver_consent import UNTIL_MS, Booklet, _booklet, _later, _problem, _rows

DAY = 86_400


async def _close(world: World, b: Booklet) -> None:
    status, answer = await world.raw("POST", f"/api/booklets/{b.id}/close",
                                     b.therapist.profile.token)
    assert status == 200, answer


async def _log(world: World, who: Client, booklet: str) -> list[dict[str, Any]]:
    await world.http.app[SERVICES].entries.fetch_audit.flush()
    status, body = await world.raw("GET", f"/api/booklets/{booklet}/access-log?limit=100",
                                   who.profile.token)
    assert status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


async def test_a_closed_booklet_takes_no_consent_and_stores_nothing(world: World) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    await b.mother.consent(b.id, me, "approve")
    await _close(world, b)
    stored = await _rows(world, "SELECT guardian_id, action FROM consent_records")
    for guardian, action in ((b.father, "approve"), (b.mother, "withdraw")):
        with pytest.raises(ClientError) as err:
            await guardian.consent(b.id, me, action)
        assert (err.value.status, err.value.code) == (409, "booklet-closed")
    assert await _rows(world, "SELECT guardian_id, action FROM consent_records") == stored
    assert [c["status"] for c in await b.mother.caregivers(b.id)] == ["pending_consent"]
    assert await _problem(world, b.daycare, "GET", f"/api/booklets/{b.id}/entries") == (
        403, "consent-pending")
    actions = [r[0] for r in await _rows(world, "SELECT action FROM audit_events")]
    assert actions.count("consent.approved") == 1
    assert "consent.withdrawn" not in actions


async def test_the_purge_takes_the_caregivers_terms_and_consent_records(world: World) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, me, "approve")
    await _close(world, b)
    s = world.http.app[SERVICES]
    world.clock.advance((365 - 30) * DAY)
    await retention_service.tick(s.retention)  # the export reminder: the purge waits for it
    world.clock.advance(30 * DAY)
    assert (await retention_service.tick(s.retention)).purged == [bytes.fromhex(b.id)]
    assert await _rows(world, "SELECT 1 FROM caregiver_terms") == []
    assert await _rows(world, "SELECT 1 FROM consent_records") == []
    assert await s.db.read(lambda conn: lifecycle_store.tables_naming_txn(
        conn, bytes.fromhex(b.id))) == []


async def test_the_guardians_see_each_consent_and_the_end_in_the_access_log(
    world: World,
) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    for guardian in (b.mother, b.father):
        await guardian.consent(b.id, me, "approve")
    await _later(world, b, UNTIL_MS / 1000 - world.clock.now_ms() / 1000 + 1)
    await b.mother.caregivers(b.id)  # the end takes effect on this read
    items = await _log(world, b.mother, b.id)
    approved = {i["actor"] for i in items if i["action"] == "consent.approved"}
    assert approved == {b.mother.profile.account_id, b.father.profile.account_id}
    assert all(i["detail"]["caregiver"] == me for i in items
               if i["action"] == "consent.approved")
    [expired] = [i for i in items if i["action"] == "member.expired"]
    assert (expired["actor"], expired["actor_ref"], expired["detail"]["member"]) == (
        None, "system", me)
    rows = client_log.rows(items, await b.mother.members(b.id, include_removed=True))
    assert all(r.hash_ok for r in rows)
    assert any(r.what == "access ended at its date: Päiväkoti (former)" for r in rows), rows


async def test_a_withdrawal_shows_in_the_access_log(world: World) -> None:
    b = await _booklet(world)
    me = b.daycare.profile.account_id
    await b.father.consent(b.id, me, "withdraw")
    items = await _log(world, b.mother, b.id)
    [withdrawn] = [i for i in items if i["action"] == "consent.withdrawn"]
    assert (withdrawn["actor"], withdrawn["detail"]["caregiver"]) == (
        b.father.profile.account_id, me)
