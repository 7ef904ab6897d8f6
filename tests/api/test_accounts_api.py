"""Invitations, enrollment, login, sessions, password change and recovery over HTTP."""

from __future__ import annotations

import pytest

from secure_msg.client import ClientError
from secure_msg.client.http import b64e
from secure_msg.crypto import keys
from secure_msg.crypto.recovery import RecoveryKeys, derive_recovery_keys, parse_recovery_key
from secure_msg.model.roles import Role

from .conftest import PASSWORD, World, derive


async def test_expired_reused_and_tampered_invitations(world: World) -> None:
    """An expired link is 410 invitation-expired, a used one 410 invitation-used, a tampered
    one 404; none of them creates an account."""
    expired = await world.staff_link()
    used = await world.staff_link()
    await world.new_client().enroll(used, "first", PASSWORD)
    tampered = used[:-3] + ("AAA" if not used.endswith("AAA") else "BBB")
    world.clock.advance(8 * 86_400)
    for link, status, code in [(expired, 410, "invitation-expired"),
                               (used, 410, "invitation-used"), (tampered, 404, "not-found")]:
        with pytest.raises(ClientError) as err:
            await world.new_client().enroll(link, "second", PASSWORD)
        assert (err.value.status, err.value.code) == (status, code)
    status, _ = await world.raw("POST", "/api/prelogin", json={"login": "second"})
    assert status == 200
    with pytest.raises(ClientError) as err:
        await world.new_client().login(world.base, "second", PASSWORD)
    assert err.value.code == "invalid-credentials"


async def test_login_name_taken_is_409_and_spends_nothing(world: World) -> None:
    """A taken login name is refused and the invitation stays usable for another name."""
    await world.therapist("sama")
    link = await world.staff_link()
    with pytest.raises(ClientError) as err:
        await world.new_client().enroll(link, "SAMA", PASSWORD)
    assert (err.value.status, err.value.code) == (409, "login-taken")
    await world.new_client().enroll(link, "eri", PASSWORD)


async def test_wrong_password_and_unknown_login_look_the_same(world: World) -> None:
    """Wrong password and unknown login get the same 401 body; prelogin has the same shape
    for both, with a salt that is stable for the unknown name."""
    await world.therapist("oikea")
    bodies = []
    for login in ("oikea", "ei-ole"):
        pw = derive("väärä salasana", b"s" * 16, 600_000)
        status, body = await world.raw("POST", "/api/login",
                                       json={"login": login, "auth_key": b64e(pw.auth_key)})
        assert status == 401
        bodies.append({k: v for k, v in body.items() if k != "instance"})
    assert bodies[0] == bodies[1]
    shapes = []
    for login in ("oikea", "ei-ole", "ei-ole"):
        _, pre = await world.raw("POST", "/api/prelogin", json={"login": login})
        shapes.append(pre)
    assert shapes[0].keys() == shapes[1].keys()
    assert shapes[1] == shapes[2]
    assert shapes[0]["iterations"] == shapes[1]["iterations"] == 600_000


async def test_repeated_failures_are_rate_limited(world: World) -> None:
    """After the configured number of failures, even the right password gets 429 with
    Retry-After until the window passes."""
    therapist = await world.therapist("kohde")
    bad = derive("väärin", b"s" * 16, 600_000)
    for _ in range(5):
        status, _ = await world.raw("POST", "/api/login",
                                    json={"login": "kohde", "auth_key": b64e(bad.auth_key)})
        assert status == 401
    async with world.http.post("/api/login", json={"login": "kohde",
                                                   "auth_key": b64e(bad.auth_key)}) as resp:
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) > 0
        assert (await resp.json())["type"] == "rate-limited"
    with pytest.raises(ClientError) as err:
        await world.new_client().login(world.base, "kohde", PASSWORD)
    assert err.value.status == 429
    world.clock.advance(901)
    again = world.new_client()
    await again.login(world.base, "kohde", PASSWORD)
    assert again.profile.account_id == therapist.profile.account_id


async def test_logout_revokes_the_token(world: World) -> None:
    """After logout the same bearer token is refused."""
    therapist = await world.therapist()
    token = therapist.profile.token
    await therapist.logout()
    status, body = await world.raw("GET", "/api/me", token)
    assert (status, body["type"]) == (401, "unauthorized")


async def test_sessions_expire(world: World) -> None:
    """A session older than its lifetime is refused."""
    therapist = await world.therapist()
    world.clock.advance(13 * 3600)
    status, _ = await world.raw("GET", "/api/me", therapist.profile.token)
    assert status == 401


async def test_password_change_rewraps_and_ends_other_sessions(world: World) -> None:
    """After a change the old password fails, the new one opens the same keys, and other
    sessions end while the changing one continues."""
    therapist = await world.therapist("vaihtaja")
    other = world.new_client()
    await other.login(world.base, "vaihtaja", PASSWORD)
    await therapist.change_password(PASSWORD, "uusi salasana 2026")
    assert (await world.raw("GET", "/api/me", therapist.profile.token))[0] == 200
    assert (await world.raw("GET", "/api/me", other.profile.token))[0] == 401
    with pytest.raises(ClientError):
        await world.new_client().login(world.base, "vaihtaja", PASSWORD)
    fresh = world.new_client()
    await fresh.login(world.base, "vaihtaja", "uusi salasana 2026")
    assert fresh.keys == therapist.keys


async def test_recovery_key_sets_a_new_password(world: World) -> None:
    """The recovery key shown at enrollment opens the keys and sets a new password; a wrong
    recovery key is 401; old sessions end."""
    client = world.new_client()
    recovery_key = await client.enroll(await world.staff_link(), "unohtaja", PASSWORD)
    old_token = client.profile.token
    wrong = recovery_key[:-4] + ("0000" if not recovery_key.endswith("0000") else "1111")
    with pytest.raises(ClientError):
        await world.new_client().recover(world.base, "unohtaja", wrong, "x")
    recovered = world.new_client()
    await recovered.recover(world.base, "unohtaja", recovery_key.lower(), "palautettu 2026")
    assert recovered.keys == client.keys
    assert (await world.raw("GET", "/api/me", old_token))[0] == 401
    again = world.new_client()
    await again.login(world.base, "unohtaja", "palautettu 2026")


def derive_recovery(text: str) -> RecoveryKeys:
    return derive_recovery_keys(parse_recovery_key(text))


async def test_recovery_compares_the_keys_with_the_statement_before_the_reset(
    world: World,
) -> None:
    """§3.5: the opened keys are compared with the account's statement, which the bundle
    answer now carries, before anything changes. A server serving a statement with other keys
    (signed by another identity key for this account) gets bundle-key-mismatch, and the
    password and sessions stay as they were: before, the reset ran first and left the account
    with a password bundle whose keys no statement matched."""
    client = world.new_client()
    recovery_key = await client.enroll(await world.staff_link(), "palauttaja", PASSWORD)
    old_token = client.profile.token
    account_id = bytes.fromhex(client.profile.account_id)
    impostor = keys.AccountKeys.generate(account_id).statement(world.clock.now_ms())
    await world.server_sql("UPDATE accounts SET key_statement = ? WHERE id = ?",
                           impostor.encode(), account_id)
    status, answer = await world.raw("POST", "/api/recovery/bundle", json={
        "login": "palauttaja",
        "recovery_auth_key": b64e(derive_recovery(recovery_key).auth_key)})
    assert (status, answer["key_statement"]) == (200, b64e(impostor.encode()))
    with pytest.raises(ClientError) as err:
        await world.new_client().recover(world.base, "palauttaja", recovery_key, "uusi 2026")
    assert err.value.code == "protocol/bundle-key-mismatch"
    assert (await world.raw("GET", "/api/me", old_token))[0] == 200
    pre = await world.raw("POST", "/api/prelogin", json={"login": "palauttaja"})
    assert pre[1]["salt"] == client.profile.kdf_salt


async def test_roles_are_enforced(world: World) -> None:
    """Guardians cannot open booklets or invite; staff cannot accept family invitations;
    a family link cannot be used by a staff session."""
    therapist = await world.therapist()
    booklet = await therapist.create_booklet("B")
    mum = await world.family(therapist, booklet, "aiti")
    with pytest.raises(ClientError) as err:
        await mum.create_booklet("mine")
    assert err.value.status == 403
    with pytest.raises(ClientError) as err:
        await mum.invite(booklet, "guardian")
    assert err.value.status == 403
    link = (await therapist.invite(booklet, "caregiver", until="2099-12-31",
                                   scope="new"))["link"]
    with pytest.raises(ClientError) as err:
        await therapist.accept(link)
    assert err.value.status == 403
    staff = await world.staff_link(Role.ADMIN, "A")
    with pytest.raises(ClientError) as err:
        await mum.accept(staff)
    assert err.value.status == 403
