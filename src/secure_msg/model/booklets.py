"""Booklets, members and entries as values (DESIGN §3). Services: booklet_service, entry_service."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.model.roles import Role

# Kinds only the booklet's therapist may post (the server checks the kind byte, the only one it
# sees) and that clients accept only from the therapist: title, homework, system.
THERAPIST_KINDS = frozenset({1, 3, 6})

ZERO_HASH = b"\x00" * 32


@dataclass(frozen=True)
class Booklet:
    id: bytes
    created_by: bytes
    created_at_ms: int
    last_seq: int
    last_hash: bytes
    members_version: int


@dataclass(frozen=True)
class Member:
    booklet_id: bytes
    account_id: bytes
    role: Role
    joined_at_ms: int
    joined_seq: int
    removed_at_ms: int | None
    identity_key: bytes
    encryption_key: bytes
    key_statement: bytes
    name: str | None

    @property
    def current(self) -> bool:
        return self.removed_at_ms is None


@dataclass(frozen=True)
class BookletSummary:
    """One row of "my booklets": what the inbox lists before decrypting titles."""

    id: bytes
    role: Role
    last_seq: int
    read_seq: int
    unread: int
    member_count: int
    title_envelope: bytes | None  # newest title entry I can open, if any


@dataclass(frozen=True)
class StoredEntry:
    booklet_id: bytes
    seq: int
    entry_id: bytes
    author_id: bytes
    kind: int
    created_at_ms: int
    received_at_ms: int
    entry_hash: bytes
    envelope: bytes


@dataclass(frozen=True)
class Receipt:
    account_id: bytes
    read_seq: int
    read_at_ms: int
