"""Booklets, members, entries, grants and read receipts: the only SQL for these tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from secure_msg.crypto.vault import Vault
from secure_msg.model.booklets import (
    ZERO_HASH,
    Booklet,
    BookletSummary,
    Member,
    Receipt,
    StoredEntry,
)
from secure_msg.model.roles import MEMBER_ROLES, Role
from secure_msg.storage.accounts import NAME
from secure_msg.storage.txn import Txn

_ENTRY_COLUMNS = (
    "booklet_id, seq, entry_id, author_id, kind, created_at_ms, received_at_ms, entry_hash,"
    " envelope"
)


def insert_booklet_txn(
    conn: Txn, booklet_id: bytes, created_by: bytes, now_ms: int
) -> None:
    conn.execute(
        "INSERT INTO booklets (id, created_by, created_at_ms, last_hash) VALUES (?, ?, ?, ?)",
        (booklet_id, created_by, now_ms, ZERO_HASH),
    )


def get_booklet_txn(conn: Txn, booklet_id: bytes) -> Booklet | None:
    row = conn.execute(
        "SELECT id, created_by, created_at_ms, last_seq, last_hash, members_version"
        " FROM booklets WHERE id = ?",
        (booklet_id,),
    ).fetchone()
    return Booklet(*row) if row else None


def add_member_txn(
    conn: Txn, booklet_id: bytes, account_id: bytes, role: Role,
    now_ms: int,
) -> bool:
    """Add a member, or re-add a removed one, who starts again from the current sequence.
    A current member is left exactly as they are (role, joined_at, joined_seq): False."""
    if role not in MEMBER_ROLES:
        raise ValueError(f"{role} cannot be a booklet member")
    cursor = conn.execute(
        "INSERT INTO members (booklet_id, account_id, role, joined_at_ms, joined_seq)"
        " SELECT ?, ?, ?, ?, last_seq FROM booklets WHERE id = ?"
        " ON CONFLICT (booklet_id, account_id) DO UPDATE SET role = excluded.role,"
        " joined_at_ms = excluded.joined_at_ms, joined_seq = excluded.joined_seq,"
        " removed_at_ms = NULL WHERE members.removed_at_ms IS NOT NULL",
        (booklet_id, account_id, role.value, now_ms, booklet_id),
    )
    if cursor.rowcount != 1:
        return False
    _bump_members_version(conn, booklet_id)
    return True


def remove_member_txn(
    conn: Txn, booklet_id: bytes, account_id: bytes, now_ms: int
) -> bool:
    cursor = conn.execute(
        "UPDATE members SET removed_at_ms = ?"
        " WHERE booklet_id = ? AND account_id = ? AND removed_at_ms IS NULL",
        (now_ms, booklet_id, account_id),
    )
    if cursor.rowcount:
        _bump_members_version(conn, booklet_id)
    return cursor.rowcount == 1


def _bump_members_version(conn: Txn, booklet_id: bytes) -> None:
    conn.execute(
        "UPDATE booklets SET members_version = members_version + 1 WHERE id = ?", (booklet_id,)
    )


def _member(vault: Vault, row: tuple[Any, ...]) -> Member:
    booklet_id, account_id, role, joined_at, joined_seq, removed, ik, ek, st, name = row
    return Member(
        booklet_id, account_id, Role(role), joined_at, joined_seq, removed, ik, ek, st,
        vault.open_text(NAME, name) if name is not None else None,
    )


def members_txn(
    conn: Txn, vault: Vault, booklet_id: bytes, *, current_only: bool = True
) -> list[Member]:
    current = " AND m.removed_at_ms IS NULL" if current_only else ""
    sql = (
        "SELECT m.booklet_id, m.account_id, m.role, m.joined_at_ms, m.joined_seq,"  # noqa: S608
        " m.removed_at_ms, a.identity_key, a.encryption_key, a.key_statement, a.name_enc"
        f" FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.booklet_id = ?{current}"
        " ORDER BY m.account_id"
    )
    rows = conn.execute(sql, (booklet_id,)).fetchall()
    return [_member(vault, r) for r in rows]


def member_keys_txn(
    conn: Txn, booklet_id: bytes
) -> dict[bytes, tuple[bytes, bytes]]:
    """{account id: (IK, active EK)} of the current members: keys only, no names decrypted."""
    rows = conn.execute(
        "SELECT m.account_id, a.identity_key, a.encryption_key FROM members m JOIN accounts a"
        " ON a.id = m.account_id WHERE m.booklet_id = ? AND m.removed_at_ms IS NULL",
        (booklet_id,),
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def membership_txn(
    conn: Txn, booklet_id: bytes, account_id: bytes
) -> Role | None:
    """The account's role if it is a current member of the booklet, else None."""
    row = conn.execute(
        "SELECT role FROM members WHERE booklet_id = ? AND account_id = ?"
        " AND removed_at_ms IS NULL",
        (booklet_id, account_id),
    ).fetchone()
    return Role(row[0]) if row else None


def recipients_txn(conn: Txn, booklet_id: bytes) -> tuple[int, dict[bytes, bytes]]:
    """(members_version, {account id: active EK}) of the current members, in one snapshot."""
    version = conn.execute(
        "SELECT members_version FROM booklets WHERE id = ?", (booklet_id,)
    ).fetchone()
    keys = member_keys_txn(conn, booklet_id)
    return (version[0] if version else 0), {account: ek for account, (_, ek) in keys.items()}


def member_booklet_txn(
    conn: Txn, booklet_id: bytes, account_id: bytes
) -> Booklet | None:
    """The booklet if the account is a current member of it, else None (one statement: it is
    on the ingest path inside the write transaction)."""
    row = conn.execute(
        "SELECT b.id, b.created_by, b.created_at_ms, b.last_seq, b.last_hash, b.members_version"
        " FROM booklets b JOIN members m ON m.booklet_id = b.id"
        " WHERE b.id = ? AND m.account_id = ? AND m.removed_at_ms IS NULL",
        (booklet_id, account_id),
    ).fetchone()
    return Booklet(*row) if row else None


def insert_entry_txn(
    conn: Txn, entry: StoredEntry, readers: list[bytes], *, text: str
) -> bool:
    """Insert the entry with its API JSON `text`, its readers' access rows and the new chain
    head. False, with nothing written, when the entry id is taken: the UNIQUE index answers, no
    look-up first."""
    # Only a repeated entry id is answered False; a taken (booklet, seq) still raises.
    cursor = conn.execute(
        f"INSERT INTO entries ({_ENTRY_COLUMNS}, json)"  # noqa: S608
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id) DO NOTHING",
        (
            entry.booklet_id, entry.seq, entry.entry_id, entry.author_id, entry.kind,
            entry.created_at_ms, entry.received_at_ms, entry.entry_hash, entry.envelope,
            text,
        ),
    )
    if cursor.rowcount == 0:
        return False
    conn.executemany(
        "INSERT INTO entry_access (booklet_id, account_id, seq) VALUES (?, ?, ?)",
        [(entry.booklet_id, reader, entry.seq) for reader in readers],
    )
    conn.execute(
        "UPDATE booklets SET last_seq = ?, last_hash = ? WHERE id = ?",
        (entry.seq, entry.entry_hash, entry.booklet_id),
    )
    return True


def _page_sql(columns: str, before: int | None) -> str:
    """Entries the account holds a key for: ascending after a sequence, or the newest before
    one (descending; callers reverse)."""
    compare, order = (">", "") if before is None else ("<", " DESC")
    return (
        f"SELECT {columns} FROM entry_access x JOIN entries e"  # noqa: S608
        " ON e.booklet_id = x.booklet_id AND e.seq = x.seq"
        f" WHERE x.booklet_id = ? AND x.account_id = ? AND x.seq {compare} ?"
        f" ORDER BY x.seq{order} LIMIT ?"
    )


def entry_texts_for_txn(
    conn: Txn, booklet_id: bytes, account_id: bytes, *, after: int = 0,
    before: int | None = None, limit: int = 50,
) -> list[tuple[int, str | None]]:
    """(seq, stored API JSON) of the entries the account holds a key for: ascending after
    `after`, or the newest before `before` (returned ascending too). The JSON is None for rows
    stored without it (before schema 0005): the caller writes those from `entries_at_txn`."""
    bound = after if before is None else before
    rows: list[tuple[int, str | None]] = conn.execute(
        _page_sql("x.seq, e.json", before), (booklet_id, account_id, bound, limit)).fetchall()
    return rows if before is None else rows[::-1]


def _rows_in(conn: Txn, sql: str, booklet_id: bytes, values: Sequence[object]
             ) -> list[Any]:
    """Rows of `sql`, whose `IN ({marks})` is filled for each chunk of `values`: SQLite caps
    the parameters of one statement (999 before 3.32)."""
    rows: list[Any] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows += conn.execute(sql.format(marks=marks), (booklet_id, *chunk)).fetchall()
    return rows


def entries_at_txn(conn: Txn, booklet_id: bytes, seqs: list[int]
                   ) -> dict[int, StoredEntry]:
    """seq → entry for the given sequences of one booklet."""
    rows = _rows_in(conn, f"SELECT {_ENTRY_COLUMNS} FROM entries"  # noqa: S608
                    " WHERE booklet_id = ? AND seq IN ({marks})", booklet_id, seqs)
    return {r[1]: StoredEntry(*r) for r in rows}


def entry_hashes_txn(
    conn: Txn, booklet_id: bytes, entry_ids: list[bytes]
) -> dict[bytes, tuple[int, bytes]]:
    """entry id → (seq, entry hash) for the given ids that exist in the booklet."""
    rows = _rows_in(conn, "SELECT entry_id, seq, entry_hash FROM entries"
                    " WHERE booklet_id = ? AND entry_id IN ({marks})", booklet_id, entry_ids)
    return {r[0]: (r[1], r[2]) for r in rows}


def insert_grant_txn(
    conn: Txn, *, booklet_id: bytes, granter_id: bytes, grantee_id: bytes,
    blob: bytes, seqs: list[int], now_ms: int,
) -> int:
    grant_id: int = conn.execute(
        "INSERT INTO grants (booklet_id, granter_id, grantee_id, created_at_ms, blob)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        (booklet_id, granter_id, grantee_id, now_ms, blob),
    ).fetchone()[0]
    conn.executemany(
        "INSERT INTO entry_access (booklet_id, account_id, seq, via_grant) VALUES (?, ?, ?, 1)"
        " ON CONFLICT DO NOTHING",
        [(booklet_id, grantee_id, seq) for seq in seqs],
    )
    return grant_id


def grants_for_txn(
    conn: Txn, booklet_id: bytes, grantee_id: bytes
) -> list[tuple[bytes, bytes]]:
    """(granter id, grant blob) of every grant to this member, oldest first."""
    rows = conn.execute(
        "SELECT granter_id, blob FROM grants WHERE booklet_id = ? AND grantee_id = ? ORDER BY id",
        (booklet_id, grantee_id),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def set_receipt_txn(
    conn: Txn, booklet_id: bytes, account_id: bytes, read_seq: int, now_ms: int
) -> int:
    """Move the read mark forward (never back); returns the stored mark."""
    conn.execute(
        "INSERT INTO receipts (booklet_id, account_id, read_seq, read_at_ms) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (booklet_id, account_id) DO UPDATE SET"
        " read_seq = CASE WHEN receipts.read_seq > excluded.read_seq THEN receipts.read_seq"
        " ELSE excluded.read_seq END, read_at_ms = excluded.read_at_ms",
        (booklet_id, account_id, read_seq, now_ms),
    )
    row = conn.execute(
        "SELECT read_seq FROM receipts WHERE booklet_id = ? AND account_id = ?",
        (booklet_id, account_id),
    ).fetchone()
    return int(row[0])


def receipts_txn(conn: Txn, booklet_id: bytes) -> list[Receipt]:
    rows = conn.execute(
        "SELECT r.account_id, r.read_seq, r.read_at_ms FROM receipts r JOIN members m"
        " ON m.booklet_id = r.booklet_id AND m.account_id = r.account_id"
        " WHERE r.booklet_id = ? AND m.removed_at_ms IS NULL ORDER BY r.account_id",
        (booklet_id,),
    ).fetchall()
    return [Receipt(*r) for r in rows]


def my_booklets_txn(conn: Txn, account_id: bytes) -> list[BookletSummary]:
    rows = conn.execute(
        "SELECT b.id, m.role, b.last_seq, COALESCE(r.read_seq, 0),"
        " (SELECT COUNT(*) FROM entry_access x WHERE x.booklet_id = b.id AND x.account_id = ?"
        "   AND x.seq > COALESCE(r.read_seq, 0)),"
        " (SELECT COUNT(*) FROM members mm WHERE mm.booklet_id = b.id"
        "   AND mm.removed_at_ms IS NULL),"
        " (SELECT e.envelope FROM entry_access x JOIN entries e"
        "   ON e.booklet_id = x.booklet_id AND e.seq = x.seq"
        "   WHERE x.booklet_id = b.id AND x.account_id = ? AND e.kind = 1"
        "   ORDER BY x.seq DESC LIMIT 1)"
        " FROM members m JOIN booklets b ON b.id = m.booklet_id"
        " LEFT JOIN receipts r ON r.booklet_id = b.id AND r.account_id = m.account_id"
        " WHERE m.account_id = ? AND m.removed_at_ms IS NULL ORDER BY b.created_at_ms",
        (account_id, account_id, account_id),
    ).fetchall()
    return [
        BookletSummary(r[0], Role(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows
    ]


def readable_seqs_txn(conn: Txn, booklet_id: bytes, account_id: bytes) -> list[int]:
    rows = conn.execute(
        "SELECT seq FROM entry_access WHERE booklet_id = ? AND account_id = ?",
        (booklet_id, account_id),
    ).fetchall()
    return [int(r[0]) for r in rows]
