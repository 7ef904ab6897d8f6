"""Audit events table: append (inside any write transaction), list, and check the chain.

Call `append_audit_txn` from inside the same `*_txn` function that makes the change it records,
so the change and its audit event commit (or roll back) together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

from secure_msg.model.audit import (
    GENESIS_HASH,
    AuditEvent,
    ChainReport,
    DetailValue,
    check_event_fields,
    encode_detail,
    event_hash,
    verify_chain,
)
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

_COLUMNS = "seq, at_ms, actor, action, target, detail, prev_hash, hash"


def _event(row: tuple[int, int, str, str, str, str, bytes, bytes]) -> AuditEvent:
    seq, at_ms, actor, action, target, detail_text, prev_hash, hash_ = row
    try:
        detail = json.loads(detail_text)
    except ValueError:
        # A tampered row must still load so that verify_chain can name it (its hash won't match).
        detail = {"unreadable_detail": True}
    return AuditEvent(seq, at_ms, actor, action, target, detail, prev_hash, hash_)


def append_audit_txn(
    conn: Txn,
    *,
    at_ms: int,
    actor: str,
    action: str,
    target: str = "",
    detail: Mapping[str, DetailValue] | None = None,
) -> AuditEvent:
    """Add the next event to the chain. Needs the writer connection (serial appends)."""
    return append_audit_events_txn(conn, [(at_ms, actor, action, target, detail or {})])[0]


# at_ms, actor, action, target, detail
AuditInput = tuple[int, str, str, str, Mapping[str, DetailValue]]


def append_audit_events_txn(
    conn: Txn, events: Sequence[AuditInput]
) -> list[AuditEvent]:
    """Add events to the chain in order: the head is read once and the rows go in one
    executemany (a batch of 512 read records was 512 look-ups of the head)."""
    last = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    out: list[AuditEvent] = []
    rows = []
    for at_ms, actor, action, target, detail in events:
        check_event_fields(actor, action, target)
        detail_text = encode_detail(detail)
        seq += 1
        digest = event_hash(prev_hash, seq, at_ms, actor, action, target, detail_text)
        rows.append((seq, at_ms, actor, action, target, detail_text, prev_hash, digest))
        out.append(AuditEvent(seq, at_ms, actor, action, target, dict(detail), prev_hash, digest))
        prev_hash = digest
    conn.executemany(
        f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        rows,
    )
    return out


def list_events_txn(
    conn: Txn, *, after_seq: int = 0, limit: int = 100
) -> list[AuditEvent]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
        (after_seq, limit),
    ).fetchall()
    return [_event(row) for row in rows]


def latest_events_txn(conn: Txn, limit: int = 50) -> list[AuditEvent]:
    """The newest `limit` events, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT ?",  # noqa: S608
        (limit,),
    ).fetchall()
    return [_event(row) for row in reversed(rows)]


def _iter_all(conn: Txn) -> Iterator[AuditEvent]:
    cursor = conn.execute(f"SELECT {_COLUMNS} FROM audit_events ORDER BY seq")  # noqa: S608
    for row in cursor:
        yield _event(row)


def verify_chain_txn(conn: Txn) -> ChainReport:
    """Check the whole chain in one read transaction (one consistent snapshot)."""
    return verify_chain(_iter_all(conn))


async def verify(db: Database) -> ChainReport:
    return await db.read(verify_chain_txn)
