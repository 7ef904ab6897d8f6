"""The Python client keeps its pins, checkpoints and sealed-to record in the account's sealed
client state (docs/protocol.md §6.5): two Client objects with profiles of their own are one
therapist's two devices, and the server turns malicious by edits behind its back."""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from typing import Any

import pytest

from secure_msg.client import Client, ClientError
from secure_msg.client.http import Api, b64d
from secure_msg.client.state_sync import StateProblem
from secure_msg.crypto import client_state, keys
from secure_msg.crypto.primitives import aes_gcm_encrypt
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World


async def _device(world: World, login: str = "terapeutti") -> Client:
    """Another device of an enrolled account: a fresh profile, logged in and synced."""
    client = world.new_client()
    await client.login(world.base, login, PASSWORD)
    await client.sync_state()
    return client


async def _stored(world: World, who: Client) -> tuple[int, client_state.ClientState | None]:
    data = await who.api.call("GET", "/api/me/state")
    if data["state"] is None:
        return data["version"], None
    version, state = client_state.open_state(
        b64d(data["state"]), account_id=bytes.fromhex(who.profile.account_id),
        key=client_state.state_key(who._me().identity_seed))
    assert version == data["version"]
    return version, state


async def _booklet_with_mum(world: World) -> tuple[Client, str, Client]:
    therapist = await world.therapist()
    await therapist.sync_state()
    booklet = await therapist.create_booklet("Aino")
    mum = await world.family(therapist, booklet, "aiti", grant_title=False)
    return therapist, booklet, mum


async def _verify(client: Client, booklet: str, account_id: str) -> None:
    member = next(m for m in await client.members(booklet, verifying=True)
                  if m.account_id == account_id)
    assert client.verify(member, client.safety_number(member))


async def test_a_second_device_takes_in_pins_checkpoints_and_sealed_to(world: World) -> None:
    """What device 1 verified, read and sealed to is device 2's after its first sync: it posts
    to the verified mother without asking and checks history from device 1's checkpoint."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    mum_id = mum.profile.account_id
    await _verify(therapist, booklet, mum_id)
    await therapist.post(booklet, "note", text="eka")
    await therapist.read(booklet)
    await therapist.sync_state()
    second = await _device(world)
    pin = second.profile.pins[mum_id]
    assert (pin.verified, pin.name, pin.roles) == (True, "aiti", {booklet: "guardian"})
    assert second.profile.checkpoints[booklet] == therapist.profile.checkpoints[booklet]
    assert second.profile.sealed_to[booklet] == sorted([mum_id, therapist.profile.account_id])
    assert second.state_problems == []
    posted = await second.post(booklet, "note", text="toka", allow_unverified=False)
    assert posted["new_recipients"] == []
    assert second.profile.state_version == (await _stored(world, second))[0]


async def test_device_changes_meet_in_the_stored_state(world: World) -> None:
    """Each device's own changes are merged into the stored state; neither overwrites the
    other's, and a sync that changes nothing writes nothing."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    second = await _device(world)
    await second.read(booklet)  # a checkpoint on device 2 only
    await second.sync_state()
    await _verify(therapist, booklet, mum.profile.account_id)  # a verification on device 1
    await therapist.sync_state()
    version, stored = await _stored(world, therapist)
    assert stored is not None
    assert stored.pins[mum.profile.account_id].verified
    assert stored.checkpoints[booklet].seq == 1
    await therapist.sync_state()
    assert (await _stored(world, therapist))[0] == version
    await second.sync_state()
    assert second.profile.pins[mum.profile.account_id].verified


class _Interleaved(Api):
    """Device 1's connection, on which device 2 writes between device 1's read and write."""

    def __init__(self, base: Api, other: Client) -> None:
        super().__init__(base.base_url, base._http, base.token)
        self.other: Client | None = other
        self.puts = 0

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None) -> Any:
        if (method, path) == ("PUT", "/api/me/state"):
            self.puts += 1
            if self.other is not None:
                other, self.other = self.other, None
                await other.sync_state()
        return await super().call(method, path, body, params)


async def test_a_write_that_lost_the_race_merges_again(world: World) -> None:
    """Device 2 writes between device 1's read and write: device 1 gets 409, reads again,
    merges, and writes both devices' changes above device 2's version."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    second = await _device(world)
    await second.read(booklet)
    await _verify(therapist, booklet, mum.profile.account_id)
    before = (await _stored(world, therapist))[0]
    therapist.api = api = _Interleaved(therapist.api, second)
    await therapist.sync_state()
    assert api.puts == 2
    version, stored = await _stored(world, therapist)
    assert version == before + 2 == therapist.profile.state_version
    assert stored is not None
    assert stored.pins[mum.profile.account_id].verified
    assert booklet in stored.checkpoints
    assert therapist.profile.checkpoints[booklet] == second.profile.checkpoints[booklet]


async def test_an_older_state_served_is_reported_and_written_over(world: World) -> None:
    """The server serves an older blob (a restore, or hiding a verification): the client warns
    state-rolled-back, keeps its newer state and writes it above the version it knew."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    old_version, _ = await _stored(world, therapist)
    old = await world.raw("GET", "/api/me/state", therapist.profile.token)
    await _verify(therapist, booklet, mum.profile.account_id)
    await therapist.sync_state()
    newer = therapist.profile.state_version
    assert newer > old_version
    await world.server_sql("UPDATE client_state SET version = ?, blob = ?", old_version,
                           b64d(old[1]["state"]))
    problems = await therapist.sync_state()
    assert problems == [StateProblem("state-rolled-back", stored_version=old_version,
                                     known_version=newer)]
    assert therapist.profile.pins[mum.profile.account_id].verified
    version, stored = await _stored(world, therapist)
    assert version == newer + 1 == therapist.profile.state_version
    assert stored is not None
    assert stored.pins[mum.profile.account_id].verified
    assert await therapist.sync_state() == []


async def test_nothing_stored_after_a_write_is_a_rollback_too(world: World) -> None:
    """A state that vanished from the server (a backup from before it existed) is version 0,
    below what the client knew: reported and written again."""
    therapist = await world.therapist()
    await therapist.sync_state()
    known = therapist.profile.state_version
    await world.server_sql("DELETE FROM client_state")
    problems = await therapist.sync_state()
    assert [p.code for p in problems] == ["state-rolled-back"]
    assert (await _stored(world, therapist))[0] == known + 1


def _sealed_garbage(account_id: bytes, version: int, key: bytes, plaintext: bytes) -> bytes:
    nonce = os.urandom(12)
    header = (bytes([1, 0, 1, 0x40]) + account_id + struct.pack(">Q", version) + nonce
              + struct.pack(">I", len(plaintext) + 16))
    return header + aes_gcm_encrypt(key, nonce, plaintext, header)


@pytest.mark.parametrize(("forge", "code"), [
    ("other-key", "state-decrypt-failed"),
    ("flipped", "state-decrypt-failed"),
    ("not-json", "bad-payload"),
    ("v2", "bad-payload"),
])
async def test_a_stored_state_that_does_not_open_is_reported_and_overwritten(
        world: World, forge: str, code: str) -> None:
    """A blob under another key, with a flipped byte, or sealed right but not a valid state, in
    place of this device's last write: the client warns with the opening error and writes its
    own state over it."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    await _verify(therapist, booklet, mum.profile.account_id)
    await therapist.sync_state()
    me = bytes.fromhex(therapist.profile.account_id)
    key = client_state.state_key(therapist._me().identity_seed)
    version = therapist.profile.state_version
    blob = {
        "other-key": lambda: _sealed_garbage(me, version, os.urandom(32), b"{}"),
        "flipped": lambda: (lambda b: b[:-1] + bytes([b[-1] ^ 1]))(client_state.seal_state(
            client_state.ClientState(), account_id=me, version=version, key=key)),
        "not-json": lambda: _sealed_garbage(me, version, key, b"{not json"),
        "v2": lambda: _sealed_garbage(
            me, version, key, b'{"checkpoints":{},"pins":{},"sealed_to":{},"v":2}'),
    }[forge]()
    await world.server_sql("UPDATE client_state SET version = ?, blob = ?", version, blob)
    problems = await therapist.sync_state()
    assert problems == [StateProblem(code)]
    stored_version, stored = await _stored(world, therapist)
    assert stored_version == version + 1
    assert stored is not None
    assert stored.pins[mum.profile.account_id].verified


async def test_a_blob_that_does_not_open_at_a_higher_version_is_not_followed(
        world: World) -> None:
    """A blob the device cannot open, at a version above any it opened or wrote: the server's
    number is not followed (it could spend the version space), nothing is written, the
    device keeps its own state and says so."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    await _verify(therapist, booklet, mum.profile.account_id)
    await therapist.sync_state()
    known = therapist.profile.state_version
    me = bytes.fromhex(therapist.profile.account_id)
    claimed = client_state.MAX_VERSION - 1
    blob = _sealed_garbage(me, claimed, os.urandom(32), b"{}")
    await world.server_sql("UPDATE client_state SET version = ?, blob = ?", claimed, blob)
    problems = await therapist.sync_state()
    assert [p.code for p in problems] == ["state-decrypt-failed", "state-not-saved"]
    assert therapist.profile.state_version == known
    assert therapist.profile.pins[mum.profile.account_id].verified
    assert (await world.raw("GET", "/api/me/state", therapist.profile.token))[1]["version"] \
        == claimed  # nothing written over it


class _Claiming(Api):
    """A server that answers the state's GET with made-up members, once."""

    def __init__(self, base: Api, answer: Any) -> None:
        super().__init__(base.base_url, base._http, base.token)
        self.answer = answer

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None) -> Any:
        if (method, path) == ("GET", "/api/me/state") and self.answer is not None:
            answer, self.answer = self.answer, None
            return answer
        return await super().call(method, path, body, params)


@pytest.mark.parametrize("answer", [
    {"version": client_state.MAX_VERSION - 1, "state": None},
    {"version": None, "state": None},
    {"version": "3", "state": None},
    {"version": 2, "state": 7},
    [],
])
async def test_a_made_up_state_answer_is_reported_and_spends_no_versions(
        world: World, answer: Any) -> None:
    """A server that claims a huge version with nothing stored, or answers with members of the
    wrong type: the sync reports it instead of crashing, writes no version taken from the
    server's number, and the next sync with an honest answer carries on from this device's own
    versions (the claim cannot brick the account's sync)."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    await _verify(therapist, booklet, mum.profile.account_id)
    await therapist.sync_state()
    known = therapist.profile.state_version
    honest = therapist.api
    therapist.api = _Claiming(honest, answer)
    problems = await therapist.sync_state()
    assert problems
    assert {p.code for p in problems} <= {"state-rolled-back", "state-not-saved", "malformed"}
    assert therapist.profile.state_version == known
    therapist.api = honest
    await therapist.post(booklet, "note", text="uusi")
    await therapist.read(booklet)  # a new checkpoint: a change to write
    assert await therapist.sync_state() == []
    assert therapist.profile.state_version == known + 1 == (await _stored(world, therapist))[0]


async def _statement(world: World, account_id: str) -> bytes:
    db = world.http.app[SERVICES].db
    row = await db.read(lambda c: c.execute(
        "SELECT key_statement FROM accounts WHERE id = ?", (bytes.fromhex(account_id),)
    ).fetchone())
    return bytes(row[0])


async def _refused(work: Any) -> None:
    with pytest.raises(ClientError) as err:
        await work
    assert err.value.code == "protocol/identity-key-changed"


async def test_devices_that_pinned_different_keys_refuse_until_verified(world: World) -> None:
    """The server showed device 2 a key of its own for the mother and device 1 the true one,
    neither verified: syncing warns pin-conflict, and both devices refuse to post, grant or
    read there as for a changed key, until one verifies her in person; the other then takes
    in the verified key."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    mum_id = mum.profile.account_id
    await therapist.post(booklet, "note", text="eka")  # device 1 pins the true key
    await therapist.sync_state()
    second = world.new_client()
    await second.login(world.base, "terapeutti", PASSWORD)
    true = await _statement(world, mum_id)
    fake = keys.AccountKeys.generate(bytes.fromhex(mum_id)).statement(world.clock.now_ms())
    await world.server_sql("UPDATE accounts SET key_statement = ? WHERE id = ?",
                           fake.encode(), bytes.fromhex(mum_id))
    await second.members(booklet)  # device 2 trusts the server's key on first use
    await world.server_sql("UPDATE accounts SET key_statement = ? WHERE id = ?", true,
                           bytes.fromhex(mum_id))
    assert await second.sync_state() == [StateProblem("pin-conflict", account=mum_id)]
    assert second.profile.pins[mum_id].key_conflict
    assert second.profile.pins[mum_id].identity_key == therapist.profile.pins[mum_id].identity_key
    await _refused(second.post(booklet, "note", text="toka"))
    await _refused(second.grant_history(booklet, mum_id))
    await _refused(second.read(booklet))
    await therapist.sync_state()
    assert therapist.profile.pins[mum_id].key_conflict
    await _refused(therapist.post(booklet, "note", text="toka"))
    await _verify(therapist, booklet, mum_id)
    assert not therapist.profile.pins[mum_id].key_conflict
    await therapist.post(booklet, "note", text="toka", allow_unverified=False)
    await therapist.sync_state()
    assert await second.sync_state() == []
    assert second.profile.pins[mum_id].verified
    await second.post(booklet, "note", text="kolmas", allow_unverified=False)


async def test_the_database_never_holds_the_states_plaintext(world: World) -> None:
    """Names, keys and hashes in a synced state never reach the database files in the clear."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    canary = "CANARY-pin-name-Maija-4711"
    await therapist.read(booklet)
    pins = therapist.profile.pins
    pins[mum.profile.account_id] = replace(pins[mum.profile.account_id], name=canary)
    await therapist.sync_state()
    # (ids are no needles: the audit log names accounts and booklets by their hex ids)
    needles = [canary, therapist.profile.checkpoints[booklet].entry_hash,
               therapist.profile.pins[mum.profile.account_id].identity_key, '"pins"',
               '"sealed_to"']
    data = await world.stored_bytes()
    assert bytes.fromhex(booklet) in data  # the search sees the stored rows
    for needle in needles:
        assert needle.encode() not in data, needle
    _, stored = await _stored(world, therapist)
    assert stored is not None
    assert stored.pins[mum.profile.account_id].name == canary


async def test_a_changed_key_can_be_verified_again(world: World) -> None:
    """A key other than the pinned one is refused, but its safety number can be shown and
    verified (members(verifying=True)); verifying pins the key listed now."""
    therapist, booklet, mum = await _booklet_with_mum(world)
    mum_id = mum.profile.account_id
    await therapist.members(booklet)  # pins her true key
    other = keys.AccountKeys.generate(bytes.fromhex(mum_id)).statement(world.clock.now_ms())
    await world.server_sql("UPDATE accounts SET key_statement = ? WHERE id = ?",
                           other.encode(), bytes.fromhex(mum_id))
    await _refused(therapist.post(booklet, "note", text="eka"))
    listed = next(m for m in await therapist.members(booklet, verifying=True)
                  if m.account_id == mum_id)
    assert listed.identity_key == other.identity_key
    assert not listed.verified
    assert therapist.verify(listed, therapist.safety_number(listed))
    assert therapist.profile.pins[mum_id].identity_key == other.identity_key.hex()
    after = {m.account_id: m for m in await therapist.members(booklet)}  # no longer refused
    assert after[mum_id].verified
