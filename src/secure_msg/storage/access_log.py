"""A booklet's access log: its audit events of the actions members see, newest first.

Read through the index audit_events_target_seq (schema 0008_audit_target_index): one page is a
bounded range look-up, however long the chain.
"""

from __future__ import annotations

from collections.abc import Collection

from secure_msg.model.audit import AuditEvent
from secure_msg.storage.audit import _COLUMNS, _event
from secure_msg.storage.txn import Txn


def booklet_events_txn(
    conn: Txn, target: str, actions: Collection[str], *, before_seq: int | None, limit: int
) -> list[AuditEvent]:
    """Up to `limit` events on `target` with one of `actions`, seq < before_seq, newest first."""
    marks = ",".join("?" * len(actions))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM audit_events WHERE target = ? AND seq < ? "  # noqa: S608
        f"AND action IN ({marks}) ORDER BY seq DESC LIMIT ?",
        (target, before_seq if before_seq is not None else 2**63 - 1, *sorted(actions), limit),
    ).fetchall()
    return [_event(row) for row in rows]
