"""A booklet's invitations still waiting to be used, for its therapist's page: the list stays
on screen after the link itself is gone (only its hash is stored)."""

from __future__ import annotations

from secure_msg.errors import Forbidden
from secure_msg.model.accounts import Session
from secure_msg.model.roles import Role
from secure_msg.model.staff import PendingInvitation
from secure_msg.services.booklet_service import BookletDeps, require_member_txn
from secure_msg.storage import staff as store
from secure_msg.storage.txn import Txn


async def pending(deps: BookletDeps, session: Session, booklet_id: bytes
                  ) -> list[PendingInvitation]:
    now = deps.clock.now_ms()

    def txn(conn: Txn) -> list[PendingInvitation]:
        if require_member_txn(conn, booklet_id, session) is not Role.THERAPIST:
            raise Forbidden("Only the booklet's therapist sees its invitations.")
        return store.pending_for_booklet_txn(conn, deps.vault, booklet_id, now)

    return await deps.db.read(txn)
