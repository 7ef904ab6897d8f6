"""Invitations table. PII is sealed with the vault on the way in and opened on the way out."""

from __future__ import annotations

from secure_msg.crypto.vault import Vault
from secure_msg.model.invitations import Invitation, InvitationRequest
from secure_msg.model.roles import Role
from secure_msg.storage.txn import Txn

_COLUMNS = "id, role, name_enc, phone_enc, email_enc, created_at_ms, expires_at_ms, used_at_ms"
# Vault purposes: "<table>.<column>" so a blob moved to another column fails to open.
NAME, PHONE, EMAIL = "invitations.name", "invitations.phone", "invitations.email"

_Row = tuple[int, str, bytes | None, bytes | None, bytes | None, int, int, int | None]


def _open(vault: Vault, purpose: str, blob: bytes | None) -> str | None:
    return vault.open_text(purpose, blob) if blob is not None else None


def _seal(vault: Vault, purpose: str, text: str | None) -> bytes | None:
    return vault.seal_text(purpose, text) if text is not None else None


def _invitation(vault: Vault, row: _Row) -> Invitation:
    id_, role, name, phone, email, created, expires, used = row
    return Invitation(
        id_, Role(role), _open(vault, NAME, name), _open(vault, PHONE, phone),
        _open(vault, EMAIL, email), created, expires, used,
    )


def insert_invitation_txn(
    conn: Txn, vault: Vault, *, request: InvitationRequest, token_hash: bytes,
    created_at_ms: int, expires_at_ms: int,
) -> Invitation:
    """Store a new invitation; `request` must already be normalised (E.164, lower-case e-mail)."""
    cursor = conn.execute(
        "INSERT INTO invitations (token_hash, role, name_enc, phone_enc, phone_index, email_enc,"
        " email_index, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (
            token_hash, request.role.value,
            _seal(vault, NAME, request.name),
            _seal(vault, PHONE, request.phone),
            vault.blind_index(PHONE, request.phone) if request.phone else None,
            _seal(vault, EMAIL, request.email),
            vault.blind_index(EMAIL, request.email) if request.email else None,
            created_at_ms, expires_at_ms,
        ),
    )
    (invitation_id,) = cursor.fetchone()
    return Invitation(
        invitation_id, request.role, request.name, request.phone, request.email,
        created_at_ms, expires_at_ms, None,
    )


def find_by_token_hash_txn(
    conn: Txn, vault: Vault, token_hash: bytes
) -> Invitation | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM invitations WHERE token_hash = ?", (token_hash,)  # noqa: S608
    ).fetchone()
    return _invitation(vault, row) if row else None


def get_invitation_txn(
    conn: Txn, vault: Vault, invitation_id: int
) -> Invitation | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM invitations WHERE id = ?", (invitation_id,)  # noqa: S608
    ).fetchone()
    return _invitation(vault, row) if row else None


def find_by_phone_txn(conn: Txn, vault: Vault, e164: str) -> list[Invitation]:
    """Invitations for a normalised phone number, via the blind index (no decryption scan)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM invitations WHERE phone_index = ? ORDER BY id",  # noqa: S608
        (vault.blind_index(PHONE, e164),),
    ).fetchall()
    return [_invitation(vault, row) for row in rows]


def mark_used_txn(conn: Txn, invitation_id: int, now_ms: int) -> bool:
    """Spend an invitation. False if it was already used or has expired (spend nothing then)."""
    cursor = conn.execute(
        "UPDATE invitations SET used_at_ms = ?"
        " WHERE id = ? AND used_at_ms IS NULL AND expires_at_ms > ?",
        (now_ms, invitation_id, now_ms),
    )
    return cursor.rowcount == 1


def revoke_unused_txn(conn: Txn, *, role: Role, now_ms: int) -> int:
    """Expire every unused, still-valid invitation of `role` now; return how many."""
    cursor = conn.execute(
        "UPDATE invitations SET expires_at_ms = ?"
        " WHERE role = ? AND used_at_ms IS NULL AND expires_at_ms > ?",
        (now_ms, role.value, now_ms),
    )
    return cursor.rowcount
