"""A therapist invites a family member into a booklet and, if asked, sends the link: one
transaction, so the invitation and its notices exist together or not at all."""

from __future__ import annotations

from collections.abc import Sequence

from secure_msg.model.accounts import Session
from secure_msg.model.channel_policy import Channel
from secure_msg.model.invitations import InvitationRequest, IssuedInvitation
from secure_msg.model.notice_templates import Language
from secure_msg.services import booklet_service, notice_service
from secure_msg.services.booklet_service import BookletDeps, InvitationHook
from secure_msg.services.notice_service import NoticeDeps
from secure_msg.storage.txn import Txn


async def invite(
    booklets: BookletDeps, notices: NoticeDeps, session: Session, booklet_id: bytes,
    request: InvitationRequest, send: Sequence[Channel], language: Language,
    *, terms_txn: InvitationHook | None = None,
) -> tuple[IssuedInvitation, list[str]]:
    """Issue the invitation; queue its link on each channel in `send` that the invitee has an
    address for. Returns the invitation and the channels queued. `terms_txn` (a caregiver's
    terms, services/consent_service.py) runs first in the same transaction."""
    queued: list[str] = []
    also_txn = terms_txn
    if send:
        # Refused before anything is written: a channel that is off, an address missing.
        await notice_service.check_invitation_send(notices, session, booklet_id, request, send)
        now = notices.clock.now_ms()

        def also_txn(t: Txn, issued: IssuedInvitation) -> None:
            if terms_txn is not None:
                terms_txn(t, issued)
            queued.extend(notice_service.invitation_notices_txn(
                t, notices, issued, booklet_id, send, language, now))

    issued = await booklet_service.invite(booklets, session, booklet_id, request,
                                          also_txn=also_txn)
    return issued, queued
