"""Accounts and sessions as values. Services are in services/account_service.py."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from secure_msg.errors import ValidationFailed
from secure_msg.model.roles import Role

LOGIN_RE = re.compile(r"[a-z0-9][a-z0-9._@-]{2,63}")


def normalise_login(raw: str) -> str:
    """Login names are case-insensitive, NFKC, 3-64 of a-z 0-9 . _ @ -."""
    login = unicodedata.normalize("NFKC", raw).strip().lower()
    if not LOGIN_RE.fullmatch(login):
        raise ValidationFailed(
            "A login name is 3-64 characters: letters a-z, digits and . _ @ -",
            errors=[{"field": "login", "problem": "invalid"}],
        )
    return login


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


@dataclass(frozen=True)
class Account:
    id: bytes
    role: Role
    login: str
    name: str | None
    phone: str | None
    email: str | None
    language: str
    kdf_salt: bytes
    kdf_iterations: int
    key_statement: bytes
    identity_key: bytes
    encryption_key: bytes
    created_at_ms: int
    disabled_at_ms: int | None


@dataclass(frozen=True)
class Credentials:
    """What login and recovery check; never leaves the server."""

    account_id: bytes
    auth_verifier: bytes
    recovery_verifier: bytes
    password_bundle: bytes
    recovery_bundle: bytes
    disabled: bool


@dataclass(frozen=True)
class NewAccount:
    id: bytes
    role: Role
    login: str
    name: str | None
    phone: str | None
    email: str | None
    language: str
    kdf_salt: bytes
    kdf_iterations: int
    auth_verifier: bytes
    recovery_verifier: bytes
    password_bundle: bytes
    recovery_bundle: bytes
    key_statement: bytes
    identity_key: bytes
    encryption_key: bytes


@dataclass(frozen=True)
class Session:
    account_id: bytes
    role: Role
    expires_at_ms: int
