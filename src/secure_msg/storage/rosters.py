"""Signed rosters, invitation trust records and join proofs (docs/protocol.md §6.6, §6.7).

Every blob here is a public-key object (signed, never secret) or ciphertext (the grant)."""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class StoredRoster:
    version: int  # 0 when none is stored
    roster: bytes | None


@dataclass(frozen=True)
class Join:
    account_id: bytes
    record: bytes
    proof: bytes


@dataclass(frozen=True)
class InvitationTrust:
    invitation_id: int
    record: bytes
    grant: bytes | None


def roster_txn(conn: Txn, booklet_id: bytes) -> StoredRoster:
    row = conn.execute(
        "SELECT version, roster FROM booklet_rosters WHERE booklet_id = ?", (booklet_id,)
    ).fetchone()
    return StoredRoster(int(row[0]), bytes(row[1])) if row else StoredRoster(0, None)


def swap_roster_txn(conn: Txn, booklet_id: bytes, *, base_version: int,
                    version: int, roster: bytes, now_ms: int) -> int | None:
    """Store `roster` only if `base_version` is the stored version (0: none); None when it
    stored, else the version that is stored."""
    current = roster_txn(conn, booklet_id).version
    if current != base_version:
        return current
    conn.execute(
        "INSERT INTO booklet_rosters (booklet_id, version, roster, updated_at_ms)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (booklet_id) DO UPDATE SET"
        " version = excluded.version, roster = excluded.roster,"
        " updated_at_ms = excluded.updated_at_ms",
        (booklet_id, version, roster, now_ms),
    )
    return None


def insert_trust_txn(conn: Txn, *, invitation_id: int, booklet_id: bytes,
                     invitation_ik: bytes, record: bytes, grant: bytes | None,
                     now_ms: int) -> bool:
    """False when the invitation, or another of this booklet with the same key, has one."""
    cursor = conn.execute(
        "INSERT INTO invitation_trust (invitation_id, booklet_id, invitation_ik, record,"
        " grant_blob, created_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (invitation_id, booklet_id, invitation_ik, record, grant, now_ms),
    )
    return cursor.rowcount == 1


def trust_by_key_txn(conn: Txn, booklet_id: bytes, invitation_ik: bytes
                     ) -> InvitationTrust | None:
    row = conn.execute(
        "SELECT invitation_id, record, grant_blob FROM invitation_trust"
        " WHERE booklet_id = ? AND invitation_ik = ?", (booklet_id, invitation_ik),
    ).fetchone()
    return InvitationTrust(int(row[0]), bytes(row[1]), row[2]) if row else None


def invitation_used_by_txn(conn: Txn, invitation_id: int, booklet_id: bytes,
                           account_id: bytes) -> bool:
    """Whether this account joined the booklet with this invitation: enrolling and accepting
    both spend the invitation and add the member in one transaction, at one time."""
    row = conn.execute(
        "SELECT 1 FROM invitations i JOIN members m ON m.booklet_id = i.booklet_id"
        " WHERE i.id = ? AND i.booklet_id = ? AND m.account_id = ?"
        " AND m.removed_at_ms IS NULL AND i.used_at_ms = m.joined_at_ms",
        (invitation_id, booklet_id, account_id),
    ).fetchone()
    return row is not None


def insert_join_txn(conn: Txn, *, booklet_id: bytes, account_id: bytes,
                    invitation_id: int, proof: bytes, now_ms: int) -> bool:
    """False when this invitation already has a proof (each joins one member)."""
    taken = conn.execute(
        "SELECT account_id FROM join_proofs WHERE invitation_id = ?", (invitation_id,)
    ).fetchone()
    if taken is not None:
        return bytes(taken[0]) == account_id  # the same proof again is not an error
    conn.execute(
        "INSERT INTO join_proofs (booklet_id, account_id, invitation_id, proof, created_at_ms)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (booklet_id, account_id) DO UPDATE SET"
        " invitation_id = excluded.invitation_id, proof = excluded.proof,"
        " created_at_ms = excluded.created_at_ms",
        (booklet_id, account_id, invitation_id, proof, now_ms),
    )
    return True


def joins_txn(conn: Txn, booklet_id: bytes) -> list[Join]:
    """The join proofs of the booklet's current members, with their invitation records."""
    rows = conn.execute(
        "SELECT j.account_id, t.record, j.proof FROM join_proofs j"
        " JOIN invitation_trust t ON t.invitation_id = j.invitation_id"
        " JOIN members m ON m.booklet_id = j.booklet_id AND m.account_id = j.account_id"
        " WHERE j.booklet_id = ? AND m.removed_at_ms IS NULL ORDER BY j.account_id",
        (booklet_id,),
    ).fetchall()
    return [Join(bytes(r[0]), bytes(r[1]), bytes(r[2])) for r in rows]


def grant_access_txn(conn: Txn, booklet_id: bytes, account_id: bytes,
                     seqs: list[int]) -> None:
    """The member holds these entries' keys now (by the invitation's grant, §6.7)."""
    conn.executemany(
        "INSERT INTO entry_access (booklet_id, account_id, seq, via_grant) VALUES (?, ?, ?, 1)"
        " ON CONFLICT DO NOTHING",
        [(booklet_id, account_id, seq) for seq in seqs],
    )
