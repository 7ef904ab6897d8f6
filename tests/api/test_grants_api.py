"""History grants through the API: checked on a reader, stored off the event loop, and refused
when the booklet changed in between."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from secure_msg.client import Client, ClientError
from secure_msg.services import booklet_service
from secure_msg.storage import booklets as booklet_store
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World


async def _newcomer(world: World, therapist: Client, booklet: str) -> Client:
    """A member who joined but holds no grant yet (a plain link, without the history)."""
    link = (await therapist.invite(booklet, "guardian", name="uusi", via=None))["link"]
    client = world.new_client()
    await client.enroll(world.base + link[link.index("/enroll/"):], "uusi", PASSWORD)
    return client


async def _grants_to(world: World, account_id: str) -> int:
    db = world.http.app[SERVICES].db
    row = await db.read(lambda c: c.execute(
        "SELECT COUNT(*) FROM grants WHERE grantee_id = ?", (bytes.fromhex(account_id),)
    ).fetchone())
    return int(row[0])


async def test_a_grant_is_stored_off_the_event_loop(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant may list thousands of entries: its rows are written in the writer's thread."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    await therapist.post(booklet, "note", text="eka")
    newcomer = await _newcomer(world, therapist, booklet)
    threads: list[int] = []
    real_insert = booklet_store.insert_grant_txn

    def recording_insert(*args: Any, **kwargs: Any) -> int:
        threads.append(threading.get_ident())
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(booklet_store, "insert_grant_txn", recording_insert)
    assert await therapist.grant_history(booklet, newcomer.profile.account_id) == 2
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
    assert [e.payload["text"] for e in await newcomer.read(booklet, kinds={"note"})] == ["eka"]


async def test_a_grantee_removed_while_the_grant_is_checked_is_refused_and_nothing_stored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grantee leaves between the check and the store: 409 membership-changed, no grant."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    newcomer = await _newcomer(world, therapist, booklet)
    db = world.http.app[SERVICES].db
    real_read = db.read

    async def read_then_remove(fn: Any) -> Any:
        result = await real_read(fn)
        if isinstance(result, booklet_service._CheckedGrant):  # a removal commits meanwhile
            await therapist.remove(booklet, newcomer.profile.account_id)
        return result

    monkeypatch.setattr(db, "read", read_then_remove)
    with pytest.raises(ClientError) as caught:
        await therapist.grant_history(booklet, newcomer.profile.account_id)
    assert (caught.value.status, caught.value.code) == (409, "membership-changed")
    monkeypatch.undo()
    assert await _grants_to(world, newcomer.profile.account_id) == 0
