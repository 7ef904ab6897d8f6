"""Booklets and membership: create, list, invite, remove, leave, grant history (DESIGN §3, §4).

Every function checks that the session's account is a current member before anything else, and
answers "not found" to non-members so booklet ids cannot be probed (invariant 6).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from secure_msg.crypto import grant as protocol_grant
from secure_msg.crypto.errors import ProtocolError
from secure_msg.errors import (
    Forbidden,
    MembershipChanged,
    NotFound,
    ProtocolRejected,
    ValidationFailed,
)
from secure_msg.model.accounts import Session
from secure_msg.model.booklets import BookletSummary, Member, Receipt
from secure_msg.model.invitations import InvitationRequest, IssuedInvitation, new_token
from secure_msg.model.roles import Role
from secure_msg.services import caregiver_membership, invitation_service
from secure_msg.services.core import Core
from secure_msg.services.live import GRANT, Hub, ReaderEvent
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import booklets as store
from secure_msg.storage import enrollment as enrollment_store
from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class BookletDeps(Core):
    invitation_days: int
    hub: Hub  # a removed member's queued live events are dropped


def _actor(session: Session) -> str:
    return f"account:{session.account_id.hex()}"


def require_member_txn(
    conn: Txn, booklet_id: bytes, session: Session
) -> Role:
    role = store.membership_txn(conn, booklet_id, session.account_id)
    if role is None:
        # A caregiver still waiting for consent, or whose time ran out, is told so (403).
        caregiver_membership.refuse_non_member_txn(conn, booklet_id, session.account_id)
        raise NotFound("No such booklet.")
    return role


async def create(deps: BookletDeps, session: Session) -> bytes:
    """A therapist opens a booklet; its title comes as the first entry, encrypted."""
    if session.role is not Role.THERAPIST:
        raise Forbidden("Only a therapist can open a booklet.")
    booklet_id = deps.rng(16)

    def txn(conn: Txn) -> None:
        now = deps.clock.now_ms()
        store.insert_booklet_txn(conn, booklet_id, session.account_id, now)
        store.add_member_txn(conn, booklet_id, session.account_id, Role.THERAPIST, now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_actor(session), action="booklet.created",
            target=f"booklet:{booklet_id.hex()}",
        )

    await deps.db.write(txn)
    return booklet_id


async def list_mine(deps: BookletDeps, session: Session) -> list[BookletSummary]:
    await caregiver_membership.expire_if_due(deps, deps.hub)
    return await deps.db.read(
        functools.partial(store.my_booklets_txn, account_id=session.account_id)
    )


async def members(
    deps: BookletDeps, session: Session, booklet_id: bytes, *, include_removed: bool = False
) -> list[Member]:
    """Current members; with `include_removed` also former ones, whose keys still verify the
    entries they wrote."""
    await caregiver_membership.expire_if_due(deps, deps.hub)

    def txn(conn: Txn) -> list[Member]:
        require_member_txn(conn, booklet_id, session)
        return store.members_txn(
            conn, deps.vault, booklet_id, current_only=not include_removed
        )

    return await deps.db.read(txn)


# Runs inside the invitation's transaction with the new invitation (e.g. to queue its link).
InvitationHook = Callable[[Txn, IssuedInvitation], object]


async def invite(
    deps: BookletDeps, session: Session, booklet_id: bytes, request: InvitationRequest,
    *, also_txn: InvitationHook | None = None,
) -> IssuedInvitation:
    """A therapist member invites a guardian or caregiver into this booklet.

    `also_txn` runs in the same transaction (both or neither), e.g. to queue the link as a
    notice."""
    if request.role not in (Role.GUARDIAN, Role.CAREGIVER):
        raise ValidationFailed("Invite a guardian or a caregiver.", errors=[{"field": "role"}])
    token = new_token(deps.rng)
    account_id = deps.rng(16)
    normalised = invitation_service.normalise_request(request)

    def txn(conn: Txn) -> IssuedInvitation:
        if require_member_txn(conn, booklet_id, session) is not Role.THERAPIST:
            raise Forbidden("Only the booklet's therapist can invite members.")
        lifecycle_store.require_open_txn(conn, booklet_id)
        invitation = invitation_service.issue_txn(
            conn, vault=deps.vault, request=normalised, token=token, now_ms=deps.clock.now_ms(),
            lifetime_days=deps.invitation_days, actor=_actor(session),
        )
        enrollment_store.set_target_txn(
            conn, invitation.id, account_id=account_id, booklet_id=booklet_id,
            invited_by=session.account_id,
        )
        issued = IssuedInvitation(invitation, token)
        if also_txn is not None:
            also_txn(conn, issued)
        return issued

    return await deps.db.write(txn)


async def remove(
    deps: BookletDeps, session: Session, booklet_id: bytes, member_id: bytes
) -> None:
    """A therapist removes a member, or anyone leaves (member_id = self)."""

    def txn(conn: Txn) -> None:
        role = require_member_txn(conn, booklet_id, session)
        leaving = member_id == session.account_id
        if not leaving and role is not Role.THERAPIST:
            raise Forbidden("Only the booklet's therapist can remove members.")
        if not leaving:  # leaving a closed booklet is allowed: it only gives up one's access
            lifecycle_store.require_open_txn(conn, booklet_id)
        now = deps.clock.now_ms()
        if not store.remove_member_txn(conn, booklet_id, member_id, now):
            raise NotFound("No such member.")
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=_actor(session),
            action="member.left" if leaving else "member.removed",
            target=f"booklet:{booklet_id.hex()}", detail={"member": member_id.hex()},
        )

    await deps.db.write(txn)
    deps.hub.member_removed(member_id, booklet_id)


@dataclass(frozen=True)
class _CheckedGrant:
    """What a grant was verified against, so the write can tell whether it still holds."""

    grantee_id: bytes
    granter_ik: bytes
    grantee_ek: bytes
    seqs: list[int]


def _require_readable_txn(
    conn: Txn, booklet_id: bytes, session: Session, seqs: list[int]
) -> None:
    readable = set(store.readable_seqs_txn(conn, booklet_id, session.account_id))
    if any(seq not in readable for seq in seqs):
        raise Forbidden("You can only share entries you can read yourself.")


def _check_grant_txn(
    conn: Txn, *, session: Session, booklet_id: bytes, blob: bytes
) -> _CheckedGrant:
    require_member_txn(conn, booklet_id, session)  # before parsing: non-members learn nothing
    lifecycle_store.require_open_txn(conn, booklet_id)
    try:
        parsed = protocol_grant.parse_grant(blob)
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    current = store.member_keys_txn(conn, booklet_id)
    if parsed.grantee_id not in current:
        raise NotFound("The grantee is not a member of this booklet.")
    grantee_ek = current[parsed.grantee_id][1]
    known = store.entry_hashes_txn(conn, booklet_id, [i.entry_id for i in parsed.items])
    _require_readable_txn(conn, booklet_id, session, [seq for seq, _ in known.values()])
    granter_ik = current[session.account_id][0]
    try:
        protocol_grant.verify_grant(
            blob, granter_identity_key=granter_ik,
            booklet_id=booklet_id, granter_id=session.account_id,
            grantee_id=parsed.grantee_id, grantee_ek=grantee_ek,
            entry_hashes={eid: ehash for eid, (_, ehash) in known.items()},
        )
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    return _CheckedGrant(parsed.grantee_id, granter_ik, grantee_ek,
                         [seq for seq, _ in known.values()])


def _store_grant_txn(
    conn: Txn, *, deps: BookletDeps, session: Session, booklet_id: bytes,
    blob: bytes, checked: _CheckedGrant,
) -> int:
    # Entries never change, so their hashes still hold; memberships, keys and what the granter
    # may read can have changed since the check.
    require_member_txn(conn, booklet_id, session)
    lifecycle_store.require_open_txn(conn, booklet_id)
    current = store.member_keys_txn(conn, booklet_id)
    grantee = current.get(checked.grantee_id)
    if (grantee is None or grantee[1] != checked.grantee_ek
            or current[session.account_id][0] != checked.granter_ik):
        raise MembershipChanged("The booklet's members or their keys changed; grant again.")
    _require_readable_txn(conn, booklet_id, session, checked.seqs)
    now = deps.clock.now_ms()
    store.insert_grant_txn(
        conn, booklet_id=booklet_id, granter_id=session.account_id,
        grantee_id=checked.grantee_id, blob=blob, seqs=checked.seqs, now_ms=now,
    )
    audit_store.append_audit_txn(
        conn, at_ms=now, actor=_actor(session), action="history.granted",
        target=f"booklet:{booklet_id.hex()}",
        detail={"grantee": checked.grantee_id.hex(), "entries": len(checked.seqs)},
    )
    return len(checked.seqs)


async def grant_history(
    deps: BookletDeps, session: Session, booklet_id: bytes, blob: bytes
) -> int:
    """Store a signed history grant after the checks of protocol §5; returns entries granted.

    A grant may list thousands of entries: it is parsed and verified on a reader, and stored in
    the writer's thread (inline=False), so neither step stalls the event loop.
    """
    await caregiver_membership.expire_if_due(deps, deps.hub)
    checked = await deps.db.read(functools.partial(
        _check_grant_txn, session=session, booklet_id=booklet_id, blob=blob))
    granted = await deps.db.write(functools.partial(
        _store_grant_txn, deps=deps, session=session, booklet_id=booklet_id, blob=blob,
        checked=checked), inline=False)
    # The grantee's open page can now read the title and earlier entries: tell it.
    deps.hub.notify(ReaderEvent(GRANT, booklet_id), [checked.grantee_id])
    return granted


async def my_grants(
    deps: BookletDeps, session: Session, booklet_id: bytes
) -> list[tuple[bytes, bytes]]:
    def txn(conn: Txn) -> list[tuple[bytes, bytes]]:
        require_member_txn(conn, booklet_id, session)
        return store.grants_for_txn(conn, booklet_id, session.account_id)

    return await deps.db.read(txn)


async def mark_read(deps: BookletDeps, session: Session, booklet_id: bytes, seq: int) -> int:
    if seq < 0:
        raise ValidationFailed("sequence must be ≥ 0", errors=[{"field": "sequence"}])

    def txn(conn: Txn) -> int:
        require_member_txn(conn, booklet_id, session)
        booklet = store.get_booklet_txn(conn, booklet_id)
        assert booklet is not None
        return store.set_receipt_txn(
            conn, booklet_id, session.account_id, min(seq, booklet.last_seq),
            deps.clock.now_ms(),
        )

    return await deps.db.write(txn)


async def receipts(deps: BookletDeps, session: Session, booklet_id: bytes) -> list[Receipt]:
    def txn(conn: Txn) -> list[Receipt]:
        require_member_txn(conn, booklet_id, session)
        return store.receipts_txn(conn, booklet_id)

    return await deps.db.read(txn)
