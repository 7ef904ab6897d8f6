"""Issuing invitations and checking them: the rules, with clock and randomness as parameters.

Enrollment (spending an invitation and creating the account) belongs to the accounts work: run
`find_usable_txn` and `storage.invitations.mark_used_txn` in the same write transaction that
creates the account, so a token can never be spent twice.
"""

from __future__ import annotations

import functools

from secure_msg.clock import Clock
from secure_msg.contacts import normalise_email, require_mobile
from secure_msg.crypto.rng import Rng
from secure_msg.crypto.vault import Vault
from secure_msg.errors import InvitationExpired, InvitationUsed, NotFound
from secure_msg.model.invitations import (
    Invitation,
    InvitationRequest,
    IssuedInvitation,
    hash_token,
    new_token,
)
from secure_msg.model.roles import Role
from secure_msg.storage import accounts as account_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import enrollment as enrollment_store
from secure_msg.storage import invitations as store
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

DAY_MS = 86_400_000


def normalise_request(request: InvitationRequest) -> InvitationRequest:
    """The request in stored form. An invitation's phone becomes the account's phone, which
    gets the SMS notices, so it must be a mobile number (refused here, as it is typed)."""
    return InvitationRequest(
        request.role,
        request.name.strip() if request.name else None,
        require_mobile(request.phone) if request.phone else None,
        normalise_email(request.email) if request.email else None,
    )


def issue_txn(
    conn: Txn, *, vault: Vault, request: InvitationRequest, token: str,
    now_ms: int, lifetime_days: int, actor: str,
) -> Invitation:
    """Insert the invitation and its audit event (one transaction: both or neither)."""
    invitation = store.insert_invitation_txn(
        conn, vault, request=request, token_hash=hash_token(token), created_at_ms=now_ms,
        expires_at_ms=now_ms + lifetime_days * DAY_MS,
    )
    audit_store.append_audit_txn(
        conn, at_ms=now_ms, actor=actor, action="invitation.created",
        target=f"invitation:{invitation.id}", detail={"role": request.role.value},
    )
    return invitation


async def issue(
    db: Database, vault: Vault, clock: Clock, rng: Rng, *,
    request: InvitationRequest, lifetime_days: int, actor: str,
) -> IssuedInvitation:
    """Create an invitation and return it with its token (shown once, never stored)."""
    token = new_token(rng)
    txn = functools.partial(
        issue_txn, vault=vault, request=normalise_request(request), token=token,
        now_ms=clock.now_ms(), lifetime_days=lifetime_days, actor=actor,
    )
    return IssuedInvitation(await db.write(txn), token)


def find_usable_txn(
    conn: Txn, vault: Vault, token: str, now_ms: int
) -> Invitation:
    """The invitation behind `token`, or a typed error saying why it cannot be used."""
    invitation = store.find_by_token_hash_txn(conn, vault, hash_token(token))
    if invitation is None:
        raise NotFound("This invitation link is not valid.")
    if invitation.used_at_ms is not None:
        raise InvitationUsed()
    if now_ms >= invitation.expires_at_ms:
        raise InvitationExpired("Ask the person who invited you for a new link.")
    return invitation


def _bootstrap_admin_txn(
    conn: Txn, *, vault: Vault, token: str, account_id: bytes, now_ms: int,
    lifetime_days: int,
) -> Invitation | None:
    if account_store.admin_exists_txn(conn):
        return None
    revoked = store.revoke_unused_txn(conn, role=Role.ADMIN, now_ms=now_ms)
    if revoked:
        audit_store.append_audit_txn(
            conn, at_ms=now_ms, actor="operator", action="invitation.revoked",
            detail={"role": Role.ADMIN.value, "count": revoked},
        )
    invitation = issue_txn(
        conn, vault=vault, request=InvitationRequest(Role.ADMIN), token=token, now_ms=now_ms,
        lifetime_days=lifetime_days, actor="operator",
    )
    enrollment_store.set_target_txn(
        conn, invitation.id, account_id=account_id, booklet_id=None, invited_by=None
    )
    return invitation


async def ensure_bootstrap_admin(
    db: Database, vault: Vault, clock: Clock, rng: Rng, *, lifetime_days: int
) -> IssuedInvitation | None:
    """A fresh admin link while no admin has enrolled yet; None once one has.

    Tokens are stored hashed, so an earlier link cannot be shown again: each call revokes the
    unused admin invitations and issues a new one, so only the latest printed link works.
    """
    token = new_token(rng)
    txn = functools.partial(
        _bootstrap_admin_txn, vault=vault, token=token, account_id=rng(16),
        now_ms=clock.now_ms(), lifetime_days=lifetime_days,
    )
    invitation = await db.write(txn)
    return IssuedInvitation(invitation, token) if invitation else None


async def issue_staff(
    db: Database, vault: Vault, clock: Clock, rng: Rng, *,
    request: InvitationRequest, lifetime_days: int, actor: str = "operator",
) -> IssuedInvitation:
    """A therapist or admin invitation, with the new account's id reserved in the same
    transaction (the enrollee's key statement must name it)."""
    if request.role not in (Role.THERAPIST, Role.ADMIN):
        raise ValueError("staff invitations are for therapists and admins")
    token = new_token(rng)
    account_id = rng(16)
    normalised = normalise_request(request)  # refused before the writer is asked

    def txn(conn: Txn) -> Invitation:
        invitation = issue_txn(
            conn, vault=vault, request=normalised, token=token,
            now_ms=clock.now_ms(), lifetime_days=lifetime_days, actor=actor,
        )
        enrollment_store.set_target_txn(
            conn, invitation.id, account_id=account_id, booklet_id=None, invited_by=None
        )
        return invitation

    return IssuedInvitation(await db.write(txn), token)
