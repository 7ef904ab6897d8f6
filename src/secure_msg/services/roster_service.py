"""Signed rosters and invitations that carry trust (docs/protocol.md §6.6, §6.7).

The server checks what it can with public keys (signatures, booklet, signer, versions, that a
join proof is by the invitation's key for the account that used it) and stores the blobs; the
trust decisions are the clients'."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.crypto import grant as protocol_grant
from secure_msg.crypto import roster as protocol_roster
from secure_msg.crypto.errors import ProtocolError
from secure_msg.errors import (
    Forbidden,
    InvitationUsed,
    NotFound,
    ProtocolRejected,
    RosterVersionConflict,
    ValidationFailed,
)
from secure_msg.model.accounts import Session
from secure_msg.model.roles import Role
from secure_msg.services.booklet_service import BookletDeps, require_member_txn
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage import enrollment as enrollment_store
from secure_msg.storage import invitations as invitation_store
from secure_msg.storage import rosters as store
from secure_msg.storage.rosters import Join, StoredRoster
from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class RosterView:
    stored: StoredRoster
    joins: list[Join]


def _rejected(exc: ProtocolError) -> ProtocolRejected:
    return ProtocolRejected(exc.code)


def _therapist_ik_txn(conn: Txn, booklet_id: bytes, session: Session) -> bytes:
    if require_member_txn(conn, booklet_id, session) is not Role.THERAPIST:
        raise Forbidden("Only the booklet's therapist signs its roster and invitations.")
    return booklet_store.member_keys_txn(conn, booklet_id)[session.account_id][0]


async def get(deps: BookletDeps, session: Session, booklet_id: bytes) -> RosterView:
    def txn(conn: Txn) -> RosterView:
        require_member_txn(conn, booklet_id, session)
        return RosterView(store.roster_txn(conn, booklet_id), store.joins_txn(conn, booklet_id))

    return await deps.db.read(txn)


async def put(deps: BookletDeps, session: Session, booklet_id: bytes, *, base_version: int,
              blob: bytes) -> int:
    """Compare-and-swap: stored only if `base_version` is the stored version and the roster's
    own version is one above it."""

    def txn(conn: Txn) -> int:
        ik = _therapist_ik_txn(conn, booklet_id, session)
        # A closed booklet takes no roster: nobody seals to it any more, and readers keep
        # checking against the roster stored when it closed (409 booklet-closed).
        lifecycle_store.require_open_txn(conn, booklet_id)
        try:
            ros = protocol_roster.verify_roster(blob, therapist_identity_key=ik,
                                                booklet_id=booklet_id,
                                                therapist_id=session.account_id)
        except ProtocolError as exc:
            raise _rejected(exc) from exc
        if ros.version != base_version + 1:
            raise ValidationFailed("The roster's version must be base_version + 1.",
                                   errors=[{"field": "roster", "problem": "version"}])
        now = deps.clock.now_ms()
        current = store.swap_roster_txn(conn, booklet_id, base_version=base_version,
                                        version=ros.version, roster=blob, now_ms=now)
        if current is not None:
            raise RosterVersionConflict(current)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=f"account:{session.account_id.hex()}",
            action="roster.signed", target=f"booklet:{booklet_id.hex()}",
            detail={"version": ros.version, "members": len(ros.members)},
        )
        return ros.version

    return await deps.db.write(txn)


async def put_trust(deps: BookletDeps, session: Session, booklet_id: bytes, invitation_id: int,
                    *, record: bytes, grant: bytes | None) -> None:
    """Attach the therapist's invitation record and the history grant sealed to the
    invitation key to an invitation she issued for this booklet and that is still unused."""

    def txn(conn: Txn) -> None:
        ik = _therapist_ik_txn(conn, booklet_id, session)
        lifecycle_store.require_open_txn(conn, booklet_id)
        inv = invitation_store.get_invitation_txn(conn, deps.vault, invitation_id)
        target = enrollment_store.target_txn(conn, invitation_id)
        if inv is None or target.booklet_id != booklet_id:
            raise NotFound("No such invitation in this booklet.")
        now = deps.clock.now_ms()
        if not inv.is_usable(now):
            raise InvitationUsed()
        try:
            rec = protocol_roster.verify_invitation(
                record, therapist_identity_key=ik, booklet_id=booklet_id,
                therapist_id=session.account_id)
            seqs: list[int] = []
            if grant is not None:
                parsed = protocol_grant.parse_grant(grant)
                known = booklet_store.entry_hashes_txn(
                    conn, booklet_id, [i.entry_id for i in parsed.items])
                protocol_grant.verify_grant(
                    grant, granter_identity_key=ik, booklet_id=booklet_id,
                    granter_id=session.account_id, grantee_id=rec.id,
                    grantee_ek=rec.invitation_ek,
                    entry_hashes={eid: h for eid, (_, h) in known.items()})
                seqs = [seq for seq, _ in known.values()]
        except ProtocolError as exc:
            raise _rejected(exc) from exc
        if rec.role != inv.role.value:
            raise ValidationFailed("The record names another role than the invitation.",
                                   errors=[{"field": "invitation", "problem": "role"}])
        readable = set(booklet_store.readable_seqs_txn(conn, booklet_id, session.account_id))
        if any(seq not in readable for seq in seqs):
            raise Forbidden("You can only share entries you can read yourself.")
        if not store.insert_trust_txn(conn, invitation_id=invitation_id, booklet_id=booklet_id,
                                      invitation_ik=rec.invitation_ik, record=record,
                                      grant=grant, now_ms=now):
            raise InvitationUsed("This invitation already carries a record.")
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=f"account:{session.account_id.hex()}",
            action="invitation.trust", target=f"booklet:{booklet_id.hex()}",
            detail={"invitation": invitation_id, "entries": len(seqs)},
        )

    await deps.db.write(txn)


async def join(deps: BookletDeps, session: Session, booklet_id: bytes, proof: bytes
               ) -> tuple[bytes, bytes | None]:
    """Store a joiner's proof; from then on she holds the invitation grant's entries.
    Returns (invitation record, grant or None)."""

    def txn(conn: Txn) -> tuple[bytes, bytes | None]:
        require_member_txn(conn, booklet_id, session)
        lifecycle_store.require_open_txn(conn, booklet_id)
        try:
            parsed = protocol_roster.parse_join_proof(proof)
        except ProtocolError as exc:
            raise _rejected(exc) from exc
        trust = store.trust_by_key_txn(conn, booklet_id, parsed.invitation_ik)
        if trust is None or not store.invitation_used_by_txn(
                conn, trust.invitation_id, booklet_id, session.account_id):
            raise NotFound("No invitation of this booklet that you joined with.")
        me = booklet_store.member_keys_txn(conn, booklet_id)[session.account_id]
        try:
            rec = protocol_roster.parse_invitation(trust.record)
            protocol_roster.verify_join_proof(proof, rec, member_id=session.account_id,
                                              member_ik=me[0])
        except ProtocolError as exc:
            raise _rejected(exc) from exc
        now = deps.clock.now_ms()
        if not store.insert_join_txn(conn, booklet_id=booklet_id, account_id=session.account_id,
                                     invitation_id=trust.invitation_id, proof=proof,
                                     now_ms=now):
            raise InvitationUsed("Another member joined with this invitation.")
        if trust.grant is not None:
            items = protocol_grant.parse_grant(trust.grant).items
            known = booklet_store.entry_hashes_txn(conn, booklet_id,
                                                   [i.entry_id for i in items])
            store.grant_access_txn(conn, booklet_id, session.account_id,
                                   [seq for seq, _ in known.values()])
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=f"account:{session.account_id.hex()}",
            action="member.proved", target=f"booklet:{booklet_id.hex()}",
            detail={"invitation": trust.invitation_id},
        )
        return trust.record, trust.grant

    return await deps.db.write(txn)
