"""Read-only queries behind the admin page and the therapist's pending invitations."""

from __future__ import annotations

from typing import Any

from secure_msg.crypto.vault import Vault
from secure_msg.model.notices import NoticeView
from secure_msg.model.roles import Role
from secure_msg.model.staff import PendingInvitation, StaffMember
from secure_msg.storage import accounts as account_store
from secure_msg.storage import invitations as invitation_store
from secure_msg.storage.notices import PROBLEM_STATUS_SQL, PROBLEM_WHERE_SQL
from secure_msg.storage.txn import Txn

_STAFF = (Role.THERAPIST.value, Role.ADMIN.value)
_PENDING = ("SELECT id, role, name_enc, phone_enc IS NOT NULL, email_enc IS NOT NULL,"
            " created_at_ms, expires_at_ms FROM invitations"
            " WHERE used_at_ms IS NULL AND expires_at_ms > ?")


def staff_txn(conn: Txn, vault: Vault) -> list[StaffMember]:
    rows = conn.execute(
        "SELECT id, role, name_enc, created_at_ms, disabled_at_ms IS NOT NULL FROM accounts"
        " WHERE role IN (?, ?) ORDER BY created_at_ms, id", _STAFF,
    ).fetchall()
    return [StaffMember(id_, Role(role),
                        vault.open_text(account_store.NAME, name) if name is not None else None,
                        created, bool(disabled))
            for id_, role, name, created, disabled in rows]


def _pending(vault: Vault, row: tuple[Any, ...]) -> PendingInvitation:
    id_, role, name, phone, email, created, expires = row
    return PendingInvitation(
        id_, Role(role),
        vault.open_text(invitation_store.NAME, name) if name is not None else None,
        bool(phone), bool(email), created, expires)


def pending_staff_txn(conn: Txn, vault: Vault, now_ms: int
                      ) -> list[PendingInvitation]:
    """Unused, unexpired therapist and admin invitations, newest first."""
    rows = conn.execute(
        f"{_PENDING} AND role IN (?, ?) AND booklet_id IS NULL ORDER BY id DESC",
        (now_ms, *_STAFF),
    ).fetchall()
    return [_pending(vault, r) for r in rows]


def pending_for_booklet_txn(conn: Txn, vault: Vault, booklet_id: bytes,
                            now_ms: int) -> list[PendingInvitation]:
    """Unused, unexpired invitations into one booklet, newest first."""
    rows = conn.execute(
        f"{_PENDING} AND booklet_id = ? ORDER BY id DESC", (now_ms, booklet_id),
    ).fetchall()
    return [_pending(vault, r) for r in rows]


def practice_problems_txn(conn: Txn, limit: int) -> list[NoticeView]:
    """Every booklet's notices that did not, or may not, have reached their recipient as meant
    (the admin's view; therapists see only their own booklets')."""
    rows = conn.execute(
        "SELECT n.id, n.booklet_id, n.recipient_id, n.channel, n.kind,"  # noqa: S608
        f" {PROBLEM_STATUS_SQL}, n.reason, n.error_code, n.attempts, n.updated_at_ms"
        f" FROM notices n WHERE {PROBLEM_WHERE_SQL}"
        " AND NOT EXISTS (SELECT 1 FROM notices r WHERE r.dedupe_key = 'retry:' || n.id)"
        " ORDER BY n.updated_at_ms DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [NoticeView(*r) for r in rows]
