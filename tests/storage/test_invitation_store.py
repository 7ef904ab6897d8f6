"""Invitations: token stored only as a hash, PII sealed at rest, expiry/reuse as typed errors."""

from __future__ import annotations

import base64
import functools
import hashlib
import sqlite3

import pytest

from secure_msg.clock import FixedClock
from secure_msg.crypto.rng import system_rng
from secure_msg.crypto.vault import Vault
from secure_msg.errors import InvitationExpired, InvitationUsed, NotFound
from secure_msg.model.accounts import NewAccount
from secure_msg.model.invitations import InvitationRequest, hash_token
from secure_msg.model.roles import Role
from secure_msg.services import invitation_service as service
from secure_msg.storage import accounts as account_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import invitations as store
from secure_msg.storage.db import Database

PHONE, EMAIL, NAME = "040 123 4567", "Maija@Example.fi", "Maija Meikäläinen"


async def _issue(db: Database, vault: Vault, clock: FixedClock) -> service.IssuedInvitation:
    return await service.issue(
        db, vault, clock, system_rng, lifetime_days=7, actor="operator",
        request=InvitationRequest(Role.THERAPIST, NAME, PHONE, EMAIL),
    )


@pytest.mark.parametrize("backend", ["sqlite"])  # reads the database file's bytes
async def test_issue_stores_hash_and_sealed_pii_only(db: Database, vault: Vault,
                                                     clock: FixedClock) -> None:
    """Neither the token nor the name, phone or e-mail appear in the database file."""
    issued = await _issue(db, vault, clock)
    assert len(issued.token) == 43
    assert issued.invitation.phone == "+358401234567"
    assert issued.invitation.email == "maija@example.fi"
    await db.close()
    raw = b"".join(p.read_bytes() for p in db.path.parent.iterdir() if p.name.startswith("secure"))
    for needle in (issued.token, NAME, "401234567", "maija", "Maija"):
        assert needle.encode() not in raw
    conn = sqlite3.connect(db.path)
    stored = conn.execute("SELECT token_hash FROM invitations").fetchone()[0]
    assert stored == hashlib.sha256(base64.urlsafe_b64decode(issued.token + "=")).digest()
    conn.close()


async def test_lookup_by_token_and_by_phone_index(db: Database, vault: Vault,
                                                  clock: FixedClock) -> None:
    """The token finds the invitation (decrypted); the blind index finds it by phone number."""
    issued = await _issue(db, vault, clock)
    found = await db.read(functools.partial(
        service.find_usable_txn, vault=vault, token=issued.token, now_ms=clock.now_ms()))
    assert found == issued.invitation
    assert found.expires_at_ms - found.created_at_ms == 7 * 86_400_000
    by_phone = await db.read(functools.partial(store.find_by_phone_txn, vault=vault,
                                               e164="+358401234567"))
    assert [i.id for i in by_phone] == [issued.invitation.id]
    events = await db.read(audit_store.list_events_txn)
    assert [(e.action, e.target) for e in events] == [
        ("invitation.created", f"invitation:{issued.invitation.id}")]


async def test_expired_used_and_tampered_tokens_get_typed_errors(
    db: Database, vault: Vault, clock: FixedClock
) -> None:
    """Expired → invitation-expired, spent → invitation-used, altered → not-found."""
    issued = await _issue(db, vault, clock)
    tampered = ("A" if issued.token[0] != "A" else "B") + issued.token[1:]
    for token in (tampered, "short", "!" * 43):
        with pytest.raises(NotFound):
            await db.read(functools.partial(service.find_usable_txn, vault=vault, token=token,
                                            now_ms=clock.now_ms()))
    late = clock.now_ms() + 7 * 86_400_000
    with pytest.raises(InvitationExpired):
        await db.read(functools.partial(service.find_usable_txn, vault=vault,
                                        token=issued.token, now_ms=late))
    assert await db.write(functools.partial(store.mark_used_txn,
                                            invitation_id=issued.invitation.id,
                                            now_ms=clock.now_ms()))
    assert not await db.write(functools.partial(store.mark_used_txn,
                                                invitation_id=issued.invitation.id,
                                                now_ms=clock.now_ms()))
    with pytest.raises(InvitationUsed):
        await db.read(functools.partial(service.find_usable_txn, vault=vault,
                                        token=issued.token, now_ms=clock.now_ms()))


async def test_bootstrap_admin_link_replaces_the_previous_until_an_admin_enrolls(
    db: Database, vault: Vault, clock: FixedClock
) -> None:
    """Each `run` issues a fresh admin link and revokes the older; none once an admin exists."""
    first = await service.ensure_bootstrap_admin(db, vault, clock, system_rng,
                                                 lifetime_days=7)
    second = await service.ensure_bootstrap_admin(db, vault, clock, system_rng,
                                                  lifetime_days=7)
    assert first is not None
    assert second is not None
    assert first.link("http://h:1").startswith("http://h:1/enroll/")
    with pytest.raises(InvitationExpired):
        await db.read(functools.partial(service.find_usable_txn, vault=vault,
                                        token=first.token, now_ms=clock.now_ms()))
    admin = NewAccount(
        b"\x01" * 16, Role.ADMIN, "admin", None, None, None, "fi", b"s" * 16, 600_000, b"v",
        b"r", b"pb", b"rb", b"st", b"i" * 32, b"e" * 32,
    )
    await db.write(functools.partial(account_store.insert_account_txn, vault=vault,
                                     account=admin, now_ms=clock.now_ms()))
    assert await service.ensure_bootstrap_admin(db, vault, clock, system_rng,
                                                lifetime_days=7) is None
    assert hash_token(second.token) != hash_token(first.token)
    assert (await audit_store.verify(db)).ok
