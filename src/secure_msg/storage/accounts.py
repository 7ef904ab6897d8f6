"""Accounts and sessions. PII (login, name, phone, e-mail) is sealed by the vault."""

from __future__ import annotations

from typing import Any

from secure_msg.crypto.vault import Vault
from secure_msg.model.accounts import Account, Credentials, NewAccount, Session
from secure_msg.model.roles import Role
from secure_msg.storage.txn import Txn

LOGIN, NAME, PHONE, EMAIL = "accounts.login", "accounts.name", "accounts.phone", "accounts.email"
_COLUMNS = (
    "id, role, login_enc, name_enc, phone_enc, email_enc, language, kdf_salt, kdf_iterations,"
    " key_statement, identity_key, encryption_key, created_at_ms, disabled_at_ms"
)


def _opt_open(vault: Vault, purpose: str, blob: bytes | None) -> str | None:
    return vault.open_text(purpose, blob) if blob is not None else None


def _opt_seal(vault: Vault, purpose: str, text: str | None) -> bytes | None:
    return vault.seal_text(purpose, text) if text is not None else None


def _account(vault: Vault, row: tuple[Any, ...]) -> Account:
    (id_, role, login, name, phone, email, lang, salt, iters, st, ik, ek, created, disabled) = row
    return Account(
        id_, Role(role), vault.open_text(LOGIN, login), _opt_open(vault, NAME, name),
        _opt_open(vault, PHONE, phone), _opt_open(vault, EMAIL, email), lang, salt, iters,
        st, ik, ek, created, disabled,
    )


def login_taken_txn(conn: Txn, vault: Vault, login: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM accounts WHERE login_index = ?", (vault.blind_index(LOGIN, login),)
    ).fetchone()
    return row is not None


def insert_account_txn(
    conn: Txn, vault: Vault, account: NewAccount, now_ms: int
) -> None:
    conn.execute(
        "INSERT INTO accounts (id, role, login_index, login_enc, name_enc, phone_enc, phone_index,"
        " email_enc, language, kdf_salt, kdf_iterations, auth_verifier, recovery_verifier,"
        " password_bundle, recovery_bundle, key_statement, identity_key, encryption_key,"
        " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            account.id, account.role.value, vault.blind_index(LOGIN, account.login),
            vault.seal_text(LOGIN, account.login), _opt_seal(vault, NAME, account.name),
            _opt_seal(vault, PHONE, account.phone),
            vault.blind_index(PHONE, account.phone) if account.phone else None,
            _opt_seal(vault, EMAIL, account.email), account.language, account.kdf_salt,
            account.kdf_iterations, account.auth_verifier, account.recovery_verifier,
            account.password_bundle, account.recovery_bundle, account.key_statement,
            account.identity_key, account.encryption_key, now_ms,
        ),
    )


def get_account_txn(conn: Txn, vault: Vault, account_id: bytes) -> Account | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM accounts WHERE id = ?", (account_id,)  # noqa: S608
    ).fetchone()
    return _account(vault, row) if row else None


def find_by_login_txn(conn: Txn, vault: Vault, login: str) -> Account | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM accounts WHERE login_index = ?",  # noqa: S608
        (vault.blind_index(LOGIN, login),),
    ).fetchone()
    return _account(vault, row) if row else None


def find_by_phone_txn(conn: Txn, vault: Vault, e164: str) -> list[Account]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM accounts WHERE phone_index = ?",  # noqa: S608
        (vault.blind_index(PHONE, e164),),
    ).fetchall()
    return [_account(vault, r) for r in rows]


def admin_exists_txn(conn: Txn) -> bool:
    row = conn.execute("SELECT 1 FROM accounts WHERE role = 'admin' LIMIT 1").fetchone()
    return row is not None


def credentials_txn(conn: Txn, account_id: bytes) -> Credentials | None:
    row = conn.execute(
        "SELECT id, auth_verifier, recovery_verifier, password_bundle, recovery_bundle,"
        " disabled_at_ms FROM accounts WHERE id = ?",
        (account_id,),
    ).fetchone()
    if row is None:
        return None
    return Credentials(row[0], row[1], row[2], row[3], row[4], row[5] is not None)


def set_password_txn(
    conn: Txn, account_id: bytes, *, kdf_salt: bytes, kdf_iterations: int,
    auth_verifier: bytes, password_bundle: bytes,
) -> None:
    conn.execute(
        "UPDATE accounts SET kdf_salt = ?, kdf_iterations = ?, auth_verifier = ?,"
        " password_bundle = ? WHERE id = ?",
        (kdf_salt, kdf_iterations, auth_verifier, password_bundle, account_id),
    )


def insert_session_txn(
    conn: Txn, token_hash: bytes, account_id: bytes, now_ms: int, expires_ms: int
) -> None:
    conn.execute(
        "INSERT INTO sessions (token_hash, account_id, created_at_ms, expires_at_ms)"
        " VALUES (?, ?, ?, ?)",
        (token_hash, account_id, now_ms, expires_ms),
    )


def session_txn(conn: Txn, token_hash: bytes, now_ms: int) -> Session | None:
    row = conn.execute(
        "SELECT s.account_id, a.role, s.expires_at_ms FROM sessions s"
        " JOIN accounts a ON a.id = s.account_id"
        " WHERE s.token_hash = ? AND s.revoked_at_ms IS NULL AND s.expires_at_ms > ?"
        " AND a.disabled_at_ms IS NULL",
        (token_hash, now_ms),
    ).fetchone()
    return Session(row[0], Role(row[1]), row[2]) if row else None


def revoke_session_txn(conn: Txn, token_hash: bytes, now_ms: int) -> None:
    conn.execute(
        "UPDATE sessions SET revoked_at_ms = ? WHERE token_hash = ? AND revoked_at_ms IS NULL",
        (now_ms, token_hash),
    )


def revoke_all_sessions_txn(
    conn: Txn, account_id: bytes, now_ms: int, keep: bytes | None = None
) -> int:
    cursor = conn.execute(
        "UPDATE sessions SET revoked_at_ms = ? WHERE account_id = ? AND revoked_at_ms IS NULL"
        " AND token_hash IS DISTINCT FROM ?",
        (now_ms, account_id, keep),
    )
    return cursor.rowcount


def key_statements_txn(
    conn: Txn, account_ids: list[bytes]
) -> dict[bytes, bytes]:
    marks = ",".join("?" * len(account_ids))
    rows = conn.execute(
        f"SELECT id, key_statement FROM accounts WHERE id IN ({marks})",  # noqa: S608
        account_ids,
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def identity_key_txn(conn: Txn, account_id: bytes) -> bytes:
    row = conn.execute("SELECT identity_key FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return bytes(row[0]) if row else b""
