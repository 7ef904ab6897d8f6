"""Enrollment invitations as values: one-time tokens, stored only as their SHA-256.

The service functions (issue, find a usable one, the bootstrap admin link) are in
services/invitation_service.py; the SQL in storage/invitations.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from secure_msg import base64url
from secure_msg.crypto.rng import Rng
from secure_msg.errors import NotFound
from secure_msg.model.roles import Role

TOKEN_BYTES = 32


@dataclass(frozen=True)
class Invitation:
    id: int
    role: Role
    name: str | None
    phone: str | None  # E.164
    email: str | None
    created_at_ms: int
    expires_at_ms: int
    used_at_ms: int | None

    def is_usable(self, now_ms: int) -> bool:
        return self.used_at_ms is None and now_ms < self.expires_at_ms


@dataclass(frozen=True)
class IssuedInvitation:
    """What the issuer gets back once: the token is never stored and cannot be shown again."""

    invitation: Invitation
    token: str

    def link(self, public_base_url: str) -> str:
        return f"{public_base_url}/enroll/{self.token}"


@dataclass(frozen=True)
class InvitationRequest:
    role: Role
    name: str | None = None
    phone: str | None = None
    email: str | None = None


def new_token(rng: Rng) -> str:
    """32 random bytes as unpadded base64url (43 characters): the secret in the link."""
    raw = rng(TOKEN_BYTES)
    if len(raw) != TOKEN_BYTES:
        raise ValueError("random source returned the wrong number of bytes")
    return base64url.encode(raw)


def hash_token(token: str) -> bytes:
    """SHA-256 of the decoded token; malformed tokens are 'not found', never a 500."""
    try:
        # The reading tokens have always had: a token written with `+/` finds the same
        # invitation; padding or a stray character leaves too few bytes for the checks below.
        raw = base64url.decode_lenient(token)
    except ValueError:
        raise NotFound("This invitation link is not valid.") from None
    if len(token) != 43 or len(raw) != TOKEN_BYTES:
        raise NotFound("This invitation link is not valid.")
    return hashlib.sha256(raw).digest()
