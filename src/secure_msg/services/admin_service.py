"""The admin's page in the web inbox: invite and list staff, the practice's notice problems and
the audit chain's state. Every call is for admins only; the CLI's `secure-msg admin …` does the
same on the server machine."""

from __future__ import annotations

import functools

from secure_msg.errors import Forbidden
from secure_msg.model.accounts import Session
from secure_msg.model.audit import ChainReport
from secure_msg.model.invitations import InvitationRequest, IssuedInvitation
from secure_msg.model.notices import NoticeView
from secure_msg.model.roles import Role
from secure_msg.model.staff import PendingInvitation, StaffMember
from secure_msg.services import audit_service, invitation_service
from secure_msg.services.booklet_service import BookletDeps
from secure_msg.storage import migrations
from secure_msg.storage import staff as store
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn


def require_admin(session: Session) -> None:
    if session.role is not Role.ADMIN:
        raise Forbidden("Only an admin can do this.")


async def invite_staff(deps: BookletDeps, session: Session, request: InvitationRequest
                       ) -> IssuedInvitation:
    """A therapist or admin invitation, audited with this admin as the actor."""
    require_admin(session)
    return await invitation_service.issue_staff(
        deps.db, deps.vault, deps.clock, deps.rng, request=request,
        lifetime_days=deps.invitation_days, actor=f"account:{session.account_id.hex()}")


async def staff(deps: BookletDeps, session: Session
                ) -> tuple[list[StaffMember], list[PendingInvitation]]:
    """The practice's therapists and admins, and the staff invitations still waiting."""
    require_admin(session)
    now = deps.clock.now_ms()

    def txn(conn: Txn) -> tuple[list[StaffMember], list[PendingInvitation]]:
        return store.staff_txn(conn, deps.vault), store.pending_staff_txn(conn, deps.vault, now)

    return await deps.db.read(txn)


async def notice_problems(deps: BookletDeps, session: Session, limit: int = 200
                          ) -> list[NoticeView]:
    require_admin(session)
    return await deps.db.read(functools.partial(store.practice_problems_txn, limit=limit))


async def audit_status(deps: BookletDeps, session: Session) -> ChainReport:
    """`secure-msg admin audit verify`, for the admin's page: the whole chain, one snapshot."""
    require_admin(session)
    return await audit_service.verify(deps.db)


async def schema_version(db: Database) -> int:
    """The newest schema version applied (`secure-msg admin migrate` prints it)."""
    return await db.read(migrations.schema_version_txn)
