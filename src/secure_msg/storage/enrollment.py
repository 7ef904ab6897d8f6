"""The invitation columns added by schema 0002: which booklet an enrollee joins, and the account
id reserved for them (their key statement must name it before they enroll)."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class InvitationTarget:
    account_id: bytes | None
    booklet_id: bytes | None
    invited_by: bytes | None


def set_target_txn(
    conn: Txn, invitation_id: int, *, account_id: bytes,
    booklet_id: bytes | None, invited_by: bytes | None,
) -> None:
    conn.execute(
        "UPDATE invitations SET account_id = ?, booklet_id = ?, invited_by = ? WHERE id = ?",
        (account_id, booklet_id, invited_by, invitation_id),
    )


def target_txn(conn: Txn, invitation_id: int) -> InvitationTarget:
    row = conn.execute(
        "SELECT account_id, booklet_id, invited_by FROM invitations WHERE id = ?",
        (invitation_id,),
    ).fetchone()
    return InvitationTarget(*row) if row else InvitationTarget(None, None, None)
