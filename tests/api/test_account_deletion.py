"""An account's owner deletes it (issue 17, item 7): refused while a member anywhere and
without the password's proof; afterwards its personal data is gone from the database files,
it cannot log in, its sessions are over, the entries it wrote still verify for the others,
and the audit keeps a pseudonymous record and still verifies."""

from __future__ import annotations

from typing import Any

import pytest

from secure_msg.client import Client
from secure_msg.client.http import ClientError, b64e
from secure_msg.services import audit_service
from secure_msg.storage.db import database_files
from secure_msg.storage.txn import Txn
from secure_msg.web.context import CONFIG
from secure_msg.web.services import SERVICES

from .conftest import PASSWORD, World

MUM_PHONE = "+358401112222"


async def _rows(world: World, sql: str, *params: object) -> list[tuple[Any, ...]]:
    def read(conn: Txn) -> list[tuple[Any, ...]]:
        return list(conn.execute(sql, params).fetchall())

    return await world.http.app[SERVICES].db.read(read)


async def _account_row(world: World, account_id: str) -> dict[str, Any]:
    def read(conn: Txn) -> dict[str, Any]:
        cursor = conn.execute("SELECT * FROM accounts WHERE id = ?", (bytes.fromhex(account_id),))
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))

    return await world.http.app[SERVICES].db.read(read)


async def _mum(world: World) -> tuple[Client, Client, str]:
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("Aino")
    link = (await therapist.invite(booklet, "guardian", name="Äiti Aaltonen",
                                   phone=MUM_PHONE))["link"]
    mum = world.new_client()
    await mum.enroll(world.base + link[link.index("/enroll/"):], "aiti", PASSWORD)
    await therapist.grant_history(booklet, mum.profile.account_id, {"title"})
    await mum.post(booklet, "note", text="Kiitos")
    return therapist, mum, booklet


async def test_a_member_cannot_delete_the_account_and_nothing_changes(world: World) -> None:
    _, mum, _ = await _mum(world)
    before = await _account_row(world, mum.profile.account_id)
    with pytest.raises(ClientError) as refused:
        await mum.delete_account(PASSWORD)
    assert (refused.value.status, refused.value.code) == (409, "still-a-member")
    assert await _account_row(world, mum.profile.account_id) == before
    status, _ = await world.raw("GET", "/api/me", mum.profile.token)
    assert status == 200  # the session goes on


async def test_deletion_needs_the_password_and_a_session(world: World) -> None:
    therapist, mum, booklet = await _mum(world)
    await mum.api.call("DELETE", f"/api/booklets/{booklet}/members/{mum.profile.account_id}")
    token = mum.profile.token
    before = await _account_row(world, mum.profile.account_id)
    wrong = {"current_auth_key": b64e(b"\x01" * 32)}
    status, problem = await world.raw("DELETE", "/api/me", token, json=wrong)
    assert (status, problem["type"]) == (401, "invalid-credentials")
    status, problem = await world.raw("DELETE", "/api/me", token, json={})
    assert (status, problem["type"]) == (422, "validation-failed")
    status, problem = await world.raw("DELETE", "/api/me", None, json=wrong)
    assert status == 401
    status, problem = await world.raw("DELETE", "/api/me", therapist.profile.token, json=wrong)
    assert (status, problem["type"]) == (401, "invalid-credentials")  # not mum's proof
    assert await _account_row(world, mum.profile.account_id) == before


@pytest.mark.sqlite_only("reads the bytes of SQLite's database files")
async def test_deleting_erases_personal_data_and_keeps_a_pseudonym(world: World) -> None:
    therapist, mum, booklet = await _mum(world)
    account_id = mum.profile.account_id
    before = await _account_row(world, account_id)
    # Sealed personal values as stored: after the deletion none may be left in any file.
    canaries = [before["name_enc"], before["phone_enc"], before["login_enc"],
                before["password_bundle"], before["recovery_bundle"]]
    path = world.http.app[CONFIG].storage.database_path

    def found() -> list[bytes]:
        raw = b"".join(f.read_bytes() for f in database_files(path) if f.exists())
        return [c for c in canaries if c in raw]

    assert found() == canaries
    await mum.api.call("DELETE", f"/api/booklets/{booklet}/members/{account_id}")
    token = mum.profile.token
    await mum.delete_account(PASSWORD)

    after = await _account_row(world, account_id)
    assert after["deleted_at_ms"] == world.clock.now_ms()
    for column in ("name_enc", "phone_enc", "phone_index", "email_enc"):
        assert after[column] is None, column
    for column in ("auth_verifier", "recovery_verifier", "password_bundle", "recovery_bundle"):
        assert after[column] == b"", column
    assert after["login_index"] != before["login_index"]
    assert after["key_statement"] == before["key_statement"]  # still verifies her entries
    assert found() == []
    for table in ("sessions", "client_state"):
        rows = await _rows(world, f"SELECT COUNT(*) FROM {table} WHERE account_id = ?",  # noqa: S608
                           bytes.fromhex(account_id))
        assert rows == [(0,)], table
    invitation = await _rows(world, "SELECT name_enc, phone_enc, phone_index FROM invitations"
                             " WHERE account_id = ?", bytes.fromhex(account_id))
    assert invitation == [(None, None, None)]

    status, _ = await world.raw("GET", "/api/me", token)
    assert status == 401
    again = world.new_client()
    with pytest.raises(ClientError) as refused:
        await again.login(world.base, "aiti", PASSWORD)
    assert refused.value.status == 401
    # Her entry still opens and verifies for the therapist; her name is gone from the list.
    notes = [e for e in await therapist.read(booklet) if e.kind == "note"]
    assert [(e.payload["text"], e.error) for e in notes] == [("Kiitos", None)]
    former = [m for m in await therapist.members(booklet, include_removed=True)
              if m.account_id == account_id]
    assert [m.name for m in former] == [None]

    events = await _rows(world, "SELECT actor, target, detail FROM audit_events"
                         " WHERE action = 'account.deleted'")
    assert [(a, t) for a, t, _ in events] == [(f"account:{account_id}",) * 2]
    assert "aiti" not in events[0][2]
    assert (await audit_service.verify(world.http.app[SERVICES].db)).ok
    # The login name is free again.
    link = (await therapist.invite(booklet, "guardian", name="uusi"))["link"]
    newcomer = world.new_client()
    await newcomer.enroll(world.base + link[link.index("/enroll/"):], "aiti", PASSWORD)
    assert newcomer.profile.account_id != account_id
