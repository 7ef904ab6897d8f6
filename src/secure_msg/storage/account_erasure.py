"""Erasing a deleted account's personal data (services/account_deletion.py): the only SQL.

The accounts row stays as a pseudonym (other tables' foreign keys and the entries it signed
need its id and public keys); everything that names or reaches the person is overwritten or
deleted, with secure_delete on so the old values are zeroed in the pages written.
"""

from __future__ import annotations

from secure_msg.crypto.vault import Vault
from secure_msg.storage.accounts import LOGIN
from secure_msg.storage.booklet_lifecycle import secure_delete
from secure_msg.storage.txn import Txn


def current_memberships_txn(conn: Txn, account_id: bytes) -> int:
    row = conn.execute("SELECT COUNT(*) FROM members WHERE account_id = ?"
                       " AND removed_at_ms IS NULL", (account_id,)).fetchone()
    return int(row[0])


def erase_account_txn(conn: Txn, vault: Vault, account_id: bytes,
                      fresh_login_index: bytes, now_ms: int) -> dict[str, int]:
    """Erase the account's personal data; returns counts of what went (for the audit)."""
    with secure_delete(conn):
        conn.execute(
            "UPDATE accounts SET login_index = ?, login_enc = ?, name_enc = NULL,"
            " phone_enc = NULL, phone_index = NULL, email_enc = NULL, kdf_salt = zeroblob(16),"
            " auth_verifier = x'', recovery_verifier = x'', password_bundle = x'',"
            " recovery_bundle = x'', disabled_at_ms = COALESCE(disabled_at_ms, ?),"
            " deleted_at_ms = ? WHERE id = ?",
            (fresh_login_index, vault.seal_text(LOGIN, ""), now_ms, now_ms, account_id))
        counts = {
            "sessions": conn.execute("DELETE FROM sessions WHERE account_id = ?",
                                     (account_id,)).rowcount,
            "client_state": conn.execute("DELETE FROM client_state WHERE account_id = ?",
                                         (account_id,)).rowcount,
            # A notice a worker holds right now (sending, ambiguous) settles first; its sealed
            # address goes with the next deletion attempt or the booklet's purge.
            "notices": conn.execute(
                "DELETE FROM notices WHERE recipient_id = ?"
                " AND status NOT IN ('sending', 'ambiguous')", (account_id,)).rowcount,
            "invitations": conn.execute(
                "UPDATE invitations SET name_enc = NULL, phone_enc = NULL, phone_index = NULL,"
                " email_enc = NULL, email_index = NULL WHERE account_id = ?",
                (account_id,)).rowcount,
        }
    return counts


def is_deleted_txn(conn: Txn, account_id: bytes) -> bool:
    row = conn.execute("SELECT deleted_at_ms FROM accounts WHERE id = ?",
                       (account_id,)).fetchone()
    return bool(row and row[0] is not None)
