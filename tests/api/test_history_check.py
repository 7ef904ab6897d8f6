"""The Python client's history check (docs/protocol.md §4.6) against a server that turns
malicious: the real server and SQLite file, edited behind its back the way an operator with
write access could, as the threat model's malicious server (§5.9)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from secure_msg.client import Client, ClientError
from secure_msg.client.history import Problem

from .conftest import PASSWORD, World


async def _family(world: World, notes: int) -> tuple[Client, Client, str]:
    """A therapist, a guardian who joined after the title, and `notes` notes after that."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    guardian = await world.family(therapist, booklet, "aiti")
    for i in range(notes):
        await therapist.post(booklet, "note", text=f"muistiinpano {i}")
    return therapist, guardian, booklet


async def _restore_to_seq_2(world: World, therapist: Client, booklet: str,
                            *texts: str) -> None:
    """The booklet as a restore from backup leaves it (entries after 2 gone), written on."""
    key = bytes.fromhex(booklet)
    await world.server_sql("DELETE FROM entry_access WHERE booklet_id = ? AND seq > 2", key)
    await world.server_sql("DELETE FROM entries WHERE booklet_id = ? AND seq > 2", key)
    await world.server_sql(
        "UPDATE booklets SET last_seq = 2, last_hash = (SELECT entry_hash FROM entries"
        " WHERE booklet_id = ? AND seq = 2) WHERE id = ?", key, key)
    for text in texts:
        await therapist.post(booklet, "note", text=text)


async def test_an_honest_history_has_no_problems_and_moves_the_checkpoint(world: World) -> None:
    """Reading an untouched booklet reports nothing and remembers its newest entry."""
    _, guardian, booklet = await _family(world, 3)
    entries = await guardian.read(booklet)
    assert guardian.history_problems[booklet] == []
    assert guardian.profile.checkpoints[booklet].seq == entries[-1].seq == 4


async def test_an_entry_withheld_from_one_member_is_reported(world: World) -> None:
    """The server leaves note 3 out of the guardian's listing: the read still shows the other
    entries, names the missing one, and keeps the checkpoint where it was."""
    _, guardian, booklet = await _family(world, 4)
    await guardian.read(booklet)
    before = guardian.profile.checkpoints[booklet]
    await world.server_sql("DELETE FROM entry_access WHERE account_id = ? AND seq = 4",
                      bytes.fromhex(guardian.profile.account_id))
    seqs = [e.seq for e in await guardian.read(booklet)]
    assert seqs == [1, 2, 3, 5]
    assert guardian.history_problems[booklet] == [Problem("entries-missing", 4, 4)]
    assert guardian.profile.checkpoints[booklet] == before


async def test_a_history_rolled_back_and_rewritten_is_reported(world: World) -> None:
    """The server restores an older copy of the booklet and the therapist writes on from there:
    each sequence links, but entry 4 is not the one the guardian's client saw, until the
    guardian accepts the history as it is now."""
    therapist, guardian, booklet = await _family(world, 3)
    await guardian.read(booklet)
    seen = guardian.profile.checkpoints[booklet]
    assert seen.seq == 4
    await _restore_to_seq_2(world, therapist, booklet, "toinen versio", "ja vielä")
    assert [e.seq for e in await guardian.read(booklet)] == [1, 2, 3, 4]
    assert guardian.history_problems[booklet] == [Problem("history-rewritten", 4)]
    assert guardian.profile.checkpoints[booklet] == seen
    # Told of the restore, the guardian takes the history as it is now as the reference.
    assert await guardian.accept_history(booklet) == []
    assert guardian.profile.checkpoints[booklet].seq == 4
    assert guardian.profile.checkpoints[booklet] != seen
    assert guardian.profile.checkpoints[booklet].accepted == 1
    await guardian.read(booklet)
    assert guardian.history_problems[booklet] == []
    assert guardian.profile.checkpoints[booklet].accepted == 1  # reads carry the count on


async def test_a_history_accepted_on_one_device_stays_accepted_on_the_others(
    world: World,
) -> None:
    """After a restore, the guardian accepts the new history on her phone; her laptop, which
    still holds the pre-restore checkpoint (further along), must not bring it back through the
    stored client state, nor warn once it has synced (protocol §6.5, `accepted`)."""
    therapist, guardian, booklet = await _family(world, 4)
    laptop = world.new_client()
    await laptop.login(world.base, "aiti", PASSWORD)
    await laptop.sync_state()
    await laptop.read(booklet)
    await laptop.sync_state()
    await guardian.sync_state()
    assert guardian.profile.checkpoints[booklet].seq == laptop.profile.checkpoints[booklet].seq == 5
    await _restore_to_seq_2(world, therapist, booklet, "toinen versio")
    await guardian.read(booklet)
    assert guardian.history_problems[booklet] == [Problem("history-rewritten", 5)]
    assert await guardian.accept_history(booklet) == []
    await guardian.sync_state()
    await laptop.sync_state()  # the laptop's own checkpoint is at 5, the accepted one at 3
    assert laptop.profile.checkpoints[booklet] == guardian.profile.checkpoints[booklet]
    await laptop.read(booklet)
    assert laptop.history_problems[booklet] == []
    await guardian.sync_state()
    await guardian.read(booklet)
    assert guardian.history_problems[booklet] == []


async def test_an_accept_that_fails_keeps_the_reference(world: World) -> None:
    """Accepting a history whose re-read fails (here the listing does not move forward) is an
    error and leaves the checkpoint as it was, not gone: a client with no checkpoint would
    take whatever history it is shown next."""
    _, guardian, booklet = await _family(world, 3)
    await guardian.read(booklet)
    before = guardian.profile.checkpoints[booklet]

    def stuck(page: dict[str, Any], _: Any) -> None:
        page["entries"] = page["entries"][:1]
        page["entries"][0]["seq"] = 0

    _lying_listing(guardian, stuck)
    with pytest.raises(ClientError) as err:
        await guardian.accept_history(booklet)
    assert err.value.code == "protocol/malformed"
    assert guardian.profile.checkpoints[booklet] == before


@pytest.mark.parametrize(("field", "lie"), [
    ("envelope", "a"), ("envelope", None), ("seq", "2x"), ("seq", True), ("entry_id", 7),
])
async def test_a_listing_row_of_the_wrong_shape_is_a_clear_error(
    world: World, field: str, lie: Any,
) -> None:
    """A row whose envelope is not base64url, or whose sequence or id is not what the API
    says, is a protocol error for the read, not a crash, and the checkpoint stays."""
    _, guardian, booklet = await _family(world, 3)
    await guardian.read(booklet)
    before = guardian.profile.checkpoints[booklet]

    def spoil(page: dict[str, Any], _: Any) -> None:
        for raw in page["entries"]:
            if raw["seq"] == 3:
                raw[field] = lie

    _lying_listing(guardian, spoil)
    with pytest.raises(ClientError) as err:
        await guardian.read(booklet)
    assert err.value.code == "protocol/malformed"
    assert guardian.profile.checkpoints[booklet] == before


async def test_a_booklet_that_went_back_is_reported_on_an_incremental_read(world: World) -> None:
    """Reading on from the checkpoint, a booklet whose last sequence fell below it is a
    rewritten history, not merely "nothing new"."""
    _, guardian, booklet = await _family(world, 3)
    await guardian.read(booklet)
    key = bytes.fromhex(booklet)
    await world.server_sql("UPDATE booklets SET last_seq = 3 WHERE id = ?", key)
    assert await guardian.read(booklet, since=4) == []
    assert guardian.history_problems[booklet] == [Problem("history-rewritten", 4)]


def _lying_listing(client: Client, change: Any) -> None:
    """Between the real server and this client: `change` edits each entries page."""
    real = client.api.call

    async def call(method: str, path: str, body: Any = None, params: Any = None) -> Any:
        page = await real(method, path, body, params=params)
        if method == "GET" and path.endswith("/entries"):
            change(page, params)
        return page

    client.api.call = call  # type: ignore[method-assign]


async def test_a_read_that_fails_leaves_the_checkpoint_where_it_was(world: World) -> None:
    """An entry with one flipped byte fails its signature: it is shown in its place as an error,
    the entries before it still read, and the forged entry does not become the reference, so the
    honest one reads cleanly afterwards."""
    therapist, guardian, booklet = await _family(world, 3)
    await guardian.read(booklet)
    before = guardian.profile.checkpoints[booklet]
    await therapist.post(booklet, "note", text="uusin")

    def flip(page: dict[str, Any], _: Any) -> None:
        for raw in page["entries"]:
            if raw["seq"] == 5:
                text = raw["envelope"]
                raw["envelope"] = text[:-8] + ("A" if text[-8] != "A" else "B") + text[-7:]

    honest = guardian.api.call
    _lying_listing(guardian, flip)
    shown = await guardian.read(booklet)
    assert [(e.seq, e.error) for e in shown][-2:] == [(4, None), (5, "protocol/bad-signature")]
    assert shown[-1].payload == {}
    assert shown[-1].kind == ""
    assert guardian.profile.checkpoints[booklet] == before
    guardian.api.call = honest  # type: ignore[method-assign]
    assert [e.seq for e in await guardian.read(booklet)][-1] == 5
    assert guardian.history_problems[booklet] == []
    assert guardian.profile.checkpoints[booklet].seq == 5


async def test_a_listing_that_does_not_move_forward_is_refused(world: World) -> None:
    """A server that serves the same page with a far-away last_seq would keep the client
    paging forever: the second page starting at or before `since` is malformed."""
    _, guardian, booklet = await _family(world, 1)

    def stuck(page: dict[str, Any], _: Any) -> None:
        page["last_seq"] = 10**9

    real = guardian.api.call

    async def first_page_again(method: str, path: str, body: Any = None,
                               params: Any = None) -> Any:
        if method == "GET" and path.endswith("/entries"):
            params = {**(params or {}), "since": "0", "limit": "1"}
        return await real(method, path, body, params=params)

    guardian.api.call = first_page_again  # type: ignore[method-assign]
    _lying_listing(guardian, stuck)
    with pytest.raises(ClientError) as err:
        await asyncio.wait_for(guardian.read(booklet), 5)
    assert err.value.code == "protocol/malformed"
