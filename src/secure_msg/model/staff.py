"""The practice as its admin sees it: staff accounts and invitations still waiting to be used."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.model.roles import Role


@dataclass(frozen=True)
class StaffMember:
    """A therapist's or admin's account: what the admin page lists (no login name, no keys)."""

    account_id: bytes
    role: Role
    name: str | None
    created_at_ms: int
    disabled: bool


@dataclass(frozen=True)
class PendingInvitation:
    """An invitation not yet used and not expired. The link itself is gone: only its hash is
    stored, so a lost link is replaced by a new invitation, never shown again."""

    id: int
    role: Role
    name: str | None
    has_phone: bool
    has_email: bool
    created_at_ms: int
    expires_at_ms: int
