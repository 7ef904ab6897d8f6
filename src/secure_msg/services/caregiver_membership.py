"""A caregiver's membership between joining and its end: joining as `pending_consent`, the
answers a caregiver who is not (or no longer) a member gets, and the end at `until`.

Kept apart from booklet_service and account_service, which call in here: those import this
module, never the other way round (consent_service holds the guardians' side).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from secure_msg.errors import ConsentPending, MembershipExpired
from secure_msg.model.caregiver_terms import CaregiverTerms, TermsStatus
from secure_msg.model.roles import Role
from secure_msg.services.core import Core
from secure_msg.services.live import Hub, MemberEvent
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage import caregiver_terms as store
from secure_msg.storage.txn import Txn


def join_txn(
    conn: Txn, *, invitation_id: int, booklet_id: bytes, account_id: bytes, role: Role,
    now_ms: int,
) -> bool:
    """Join the booklet with an invitation. An invitation with caregiver terms makes the
    account `pending_consent` (no member yet) and audits it; True then. False when the
    invitation has no terms (a guardian's, or a caregiver's from before schema 0013): the
    caller adds the member as before."""
    terms = store.get_terms_txn(conn, invitation_id)
    if terms is None or role is not Role.CAREGIVER:
        return False
    if not store.set_status_txn(conn, terms.id, TermsStatus.PENDING_CONSENT, now_ms,
                                account_id=account_id):
        # Its time ran out before the link was used: joining would only end at once.
        raise MembershipExpired("The time this invitation was for has passed.")
    audit_store.append_audit_txn(
        conn, at_ms=now_ms, actor=f"account:{account_id.hex()}", action="member.pending_consent",
        target=f"booklet:{booklet_id.hex()}",
        detail={"role": role.value, "invitation": invitation_id, "until_ms": terms.until_ms},
    )
    return True


def refuse_non_member_txn(conn: Txn, booklet_id: bytes, account_id: bytes) -> None:
    """For an account that is not a current member: 403 with the reason when it is a caregiver
    waiting for consent or whose time ran out; nothing (the caller's 404) otherwise. Only the
    caregiver's own terms are looked at, so nobody else learns the booklet exists."""
    terms = store.latest_terms_txn(conn, booklet_id, account_id)
    if terms is None:
        return
    if terms.status is TermsStatus.PENDING_CONSENT:
        raise ConsentPending()
    if terms.status is TermsStatus.EXPIRED:
        raise MembershipExpired()


@dataclass(frozen=True)
class Ended:
    terms: CaregiverTerms
    was_member: bool


def expire_due_txn(conn: Txn, now_ms: int) -> list[Ended]:
    """End every open terms whose `until` has passed: an active caregiver stops being a member
    (no reader, no recipient) in this same transaction."""
    ended = []
    for terms in store.due_txn(conn, now_ms):
        if not store.set_status_txn(conn, terms.id, TermsStatus.EXPIRED, now_ms):
            continue
        member = terms.account_id is not None and terms.status is TermsStatus.ACTIVE
        if member:
            assert terms.account_id is not None
            member = booklet_store.remove_member_txn(conn, terms.booklet_id, terms.account_id,
                                                     now_ms)
        audit_store.append_audit_txn(
            conn, at_ms=now_ms, actor="system", action="member.expired",
            target=f"booklet:{terms.booklet_id.hex()}",
            detail={"member": terms.account_id.hex() if terms.account_id else None,
                    "invitation": terms.id, "until_ms": terms.until_ms, "was_member": member},
        )
        ended.append(Ended(terms, member))
    return ended


async def expire_due(deps: Core, hub: Hub) -> int:
    """One sweep: end what is due, then tell the booklets' members. Runs on every scheduler
    tick and, through `expire_if_due`, before the reads that depend on who the members are."""
    ended = await deps.db.write(functools.partial(expire_due_txn, now_ms=deps.clock.now_ms()))
    for e in ended:
        if e.was_member and e.terms.account_id is not None:
            await announce(deps, hub, e.terms.booklet_id, e.terms.account_id, "expired")
    return len(ended)


async def expire_if_due(deps: Core, hub: Hub) -> None:
    """A point look-up on the event loop's own connection; a write only when something is
    due, so a caregiver's end takes effect at `until` even between scheduler ticks."""
    now = deps.clock.now_ms()
    if await deps.db.read_now(functools.partial(store.any_due_txn, now_ms=now)):
        await expire_due(deps, hub)


async def announce(deps: Core, hub: Hub, booklet_id: bytes, account_id: bytes,
                   change: str) -> None:
    """A live `member` event to the booklet's current members and, for an end, the caregiver
    (whose queued events of the booklet are dropped first)."""
    members = await deps.db.read(functools.partial(booklet_store.member_keys_txn,
                                                   booklet_id=booklet_id))
    if change != "joined":
        hub.member_removed(account_id, booklet_id)
    hub.announce(MemberEvent(booklet_id, account_id, change), sorted({*members, account_id}))
