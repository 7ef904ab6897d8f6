"""The guardians' side of a caregiver's membership (issue 17 item 4, docs/protocol.md §5.1):
the terms an invitation states, the list of caregivers with their consent records, and signing
an approval or a withdrawal.

The server checks every record with the guardians' public keys before it stores it, and makes a
caregiver a member only when every current guardian's approval is stored. The clients check the
same records again before they seal an entry to a caregiver (client/consent.py), so a server
cannot add a reader by itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from secure_msg.crypto import consent as protocol_consent
from secure_msg.crypto.errors import ProtocolError
from secure_msg.errors import (
    ConsentClosed,
    ConsentRecorded,
    Forbidden,
    MembershipExpired,
    NotFound,
    ProtocolRejected,
    ValidationFailed,
)
from secure_msg.model.access_log import Access
from secure_msg.model.accounts import Account, Session
from secure_msg.model.caregiver_terms import (
    PERIOD_END,
    CaregiverTerms,
    ConsentRow,
    Scope,
    TermsStatus,
    all_approved,
    end_of_day_ms,
)
from secure_msg.model.invitations import IssuedInvitation
from secure_msg.model.roles import Role
from secure_msg.services import caregiver_membership
from secure_msg.services.booklet_service import BookletDeps, InvitationHook, require_member_txn
from secure_msg.storage import accounts as account_store
from secure_msg.storage import appointments as appointment_store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklet_lifecycle as lifecycle_store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage import caregiver_terms as store
from secure_msg.storage.txn import Txn

APPROVE, WITHDRAW = "approve", "withdraw"


@dataclass(frozen=True)
class ConsentDeps:
    booklets: BookletDeps
    zone: ZoneInfo  # where the practice is: "until a date" ends at that day's local midnight


@dataclass(frozen=True)
class CaregiverView:
    terms: CaregiverTerms
    account: Account
    consents: list[ConsentRow]


def _until_field(problem: str) -> ValidationFailed:
    return ValidationFailed(f"until: {problem}", errors=[{"field": "until", "problem": problem}])


def resolve_until_txn(conn: Txn, booklet_id: bytes, until: str, zone: ZoneInfo) -> int:
    """A date (to the end of that day) or "period-end": the end date of the booklet's current
    therapy period."""
    if until == PERIOD_END:
        period = appointment_store.current_period_txn(conn, booklet_id)
        if period is None:
            raise _until_field("the booklet has no therapy period; give a date")
        return end_of_day_ms(period.end_date, zone)
    try:
        return end_of_day_ms(date.fromisoformat(until), zone)
    except ValueError:
        raise _until_field("a date YYYY-MM-DD or period-end") from None


def terms_hook(
    deps: ConsentDeps, session: Session, booklet_id: bytes, until: str, scope: Scope
) -> InvitationHook:
    """Runs inside the invitation's transaction: an invitation with terms out of range is not
    issued at all."""

    def hook(conn: Txn, issued: IssuedInvitation) -> None:
        now = deps.booklets.clock.now_ms()
        until_ms = resolve_until_txn(conn, booklet_id, until, deps.zone)
        if until_ms <= now:
            raise _until_field("the date has passed")
        store.insert_terms_txn(conn, invitation_id=issued.invitation.id, booklet_id=booklet_id,
                               until_ms=until_ms, scope=scope, invited_by=session.account_id,
                               now_ms=now)
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=f"account:{session.account_id.hex()}",
            action="caregiver.invited", target=f"booklet:{booklet_id.hex()}",
            detail={"invitation": issued.invitation.id, "until_ms": until_ms,
                    "scope": scope.value},
        )

    return hook


def _view_txn(conn: Txn, deps: ConsentDeps, terms: CaregiverTerms) -> CaregiverView:
    assert terms.account_id is not None
    account = account_store.get_account_txn(conn, deps.booklets.vault, terms.account_id)
    assert account is not None
    return CaregiverView(terms, account, store.consents_txn(conn, terms.id))


async def caregivers(deps: ConsentDeps, session: Session, booklet_id: bytes
                     ) -> list[CaregiverView]:
    """Every caregiver who joined the booklet (newest terms first), for its current members."""
    b = deps.booklets
    await caregiver_membership.expire_if_due(b, b.hub)

    def txn(conn: Txn) -> list[CaregiverView]:
        require_member_txn(conn, booklet_id, session)
        return [_view_txn(conn, deps, t) for t in store.booklet_terms_txn(conn, booklet_id)]

    return await b.db.read(txn)


def _verify(record: bytes, *, action: int, booklet_id: bytes, guardian_id: bytes,
            guardian_ik: bytes, caregiver_id: bytes, caregiver_ik: bytes,
            terms: CaregiverTerms) -> None:
    approving = action == protocol_consent.APPROVE
    try:
        protocol_consent.verify_consent(
            record, guardian_identity_key=guardian_ik, action=action, booklet_id=booklet_id,
            guardian_id=guardian_id, caregiver_id=caregiver_id,
            caregiver_identity_key=caregiver_ik,
            until=terms.until_ms if approving else None,
            scope=terms.scope.wire if approving else None)
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc


def _sign_txn(conn: Txn, deps: ConsentDeps, session: Session, booklet_id: bytes,
              caregiver_id: bytes, record: bytes) -> tuple[CaregiverView, str | None]:
    """Check and store one record; returns the caregiver's view and the membership change it
    made (joined, withdrawn) or None."""
    if require_member_txn(conn, booklet_id, session) is not Role.GUARDIAN:
        raise Forbidden("Only the child's guardians can approve or withdraw a caregiver.")
    # Like every write to a booklet: a closed one takes no consent (409 booklet-closed).
    lifecycle_store.require_open_txn(conn, booklet_id)
    terms = store.latest_terms_txn(conn, booklet_id, caregiver_id)
    if terms is None:
        raise NotFound("No such caregiver in this booklet.")
    try:
        action = protocol_consent.parse_consent(record).action
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    guardians = store.guardian_keys_txn(conn, booklet_id)
    _verify(record, action=action, booklet_id=booklet_id, guardian_id=session.account_id,
            guardian_ik=guardians[session.account_id], caregiver_id=caregiver_id,
            caregiver_ik=account_store.identity_key_txn(conn, caregiver_id), terms=terms)
    now = deps.booklets.clock.now_ms()
    if terms.status is TermsStatus.EXPIRED or terms.until_ms <= now:
        raise MembershipExpired("This caregiver's membership has ended.")
    if terms.status not in (TermsStatus.PENDING_CONSENT, TermsStatus.ACTIVE):
        raise ConsentClosed()
    name = APPROVE if action == protocol_consent.APPROVE else WITHDRAW
    if not store.insert_consent_txn(conn, ConsentRow(terms.id, session.account_id, name,
                                                     record, now)):
        raise ConsentRecorded()
    actor, target = f"account:{session.account_id.hex()}", f"booklet:{booklet_id.hex()}"
    # consent.approved or consent.withdrawn, as docs/operations.md and the access log name them.
    done = Access.CONSENT_APPROVED if name == APPROVE else Access.CONSENT_WITHDRAWN
    audit_store.append_audit_txn(conn, at_ms=now, actor=actor, action=done.value,
                                 target=target, detail={"caregiver": caregiver_id.hex(),
                                                        "invitation": terms.id})
    change = None
    if name == WITHDRAW:
        store.set_status_txn(conn, terms.id, TermsStatus.WITHDRAWN, now)
        removed = booklet_store.remove_member_txn(conn, booklet_id, caregiver_id, now)
        audit_store.append_audit_txn(conn, at_ms=now, actor=actor, action="member.removed",
                                     target=target, detail={"member": caregiver_id.hex(),
                                                            "reason": "consent-withdrawn"})
        change = "withdrawn" if removed else None
    elif terms.status is TermsStatus.PENDING_CONSENT:
        approved = {c.guardian_id for c in store.consents_txn(conn, terms.id)
                    if c.action == APPROVE}
        if all_approved(set(guardians), approved):
            store.set_status_txn(conn, terms.id, TermsStatus.ACTIVE, now)
            booklet_store.add_member_txn(conn, booklet_id, caregiver_id, Role.CAREGIVER, now)
            # The caregiver joins (the actor, as for every member.joined: the access log
            # reads "joined as caregiver, invited by"); the last guardian's record is above.
            audit_store.append_audit_txn(
                conn, at_ms=now, actor=f"account:{caregiver_id.hex()}", action="member.joined",
                target=target,
                detail={"role": Role.CAREGIVER.value, "member": caregiver_id.hex(),
                        "invitation": terms.id, "invited_by": terms.invited_by.hex(),
                        "consented_by": len(approved)})
            change = "joined"
    fresh = store.get_terms_txn(conn, terms.id)
    assert fresh is not None
    return _view_txn(conn, deps, fresh), change


async def sign(deps: ConsentDeps, session: Session, booklet_id: bytes, caregiver_id: bytes,
               record: bytes) -> CaregiverView:
    """A guardian's approval or withdrawal (§5.1): the record is checked against the
    guardian's and the caregiver's keys and the invitation's terms, then stored. The last
    missing approval makes the caregiver a member; a withdrawal removes them."""
    b = deps.booklets
    await caregiver_membership.expire_if_due(b, b.hub)
    view, change = await b.db.write(functools.partial(
        _sign_txn, deps=deps, session=session, booklet_id=booklet_id,
        caregiver_id=caregiver_id, record=record))
    if change is not None:
        await caregiver_membership.announce(b, b.hub, booklet_id, caregiver_id, change)
    return view
