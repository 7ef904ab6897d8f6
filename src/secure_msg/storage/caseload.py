"""The therapist's caseload in a few queries, whatever its size: the only SQL for the desk.

Per booklet the desk needs the next session, the week's sessions, recent family cancellations and
delivery problems; asked per booklet that is 100+ requests for a full caseload.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from secure_msg.model.appointments import Appointment
from secure_msg.storage.appointments import _COLUMNS, _appointment
from secure_msg.storage.notices import problems_for_therapist_txn
from secure_msg.storage.txn import Txn


def _marks(ids: Sequence[bytes]) -> str:
    return ",".join("?" * len(ids))


def next_sessions_txn(
    conn: Txn, booklet_ids: Sequence[bytes], now_ms: int
) -> dict[bytes, Appointment]:
    """Each booklet's soonest scheduled session that has not started."""
    if not booklet_ids:
        return {}
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM appointments a WHERE a.booklet_id IN ({_marks(booklet_ids)})"  # noqa: S608
        " AND a.status = 'scheduled' AND a.start_ms > ? AND NOT EXISTS ("
        "  SELECT 1 FROM appointments b WHERE b.booklet_id = a.booklet_id"
        "  AND b.status = 'scheduled' AND b.start_ms > ?"
        "  AND (b.start_ms < a.start_ms OR (b.start_ms = a.start_ms AND b.id < a.id)))",
        (*booklet_ids, now_ms, now_ms),
    ).fetchall()
    return {a.booklet_id: a for a in map(_appointment, rows)}


def sessions_between_txn(
    conn: Txn, booklet_ids: Sequence[bytes], from_ms: int, to_ms: int
) -> list[Appointment]:
    """Sessions of these booklets (any status) starting in [from_ms, to_ms), soonest first."""
    if not booklet_ids:
        return []
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM appointments WHERE booklet_id IN ({_marks(booklet_ids)})"  # noqa: S608
        " AND start_ms >= ? AND start_ms < ? ORDER BY start_ms, id",
        (*booklet_ids, from_ms, to_ms),
    ).fetchall()
    return [_appointment(r) for r in rows]


def family_cancellations_txn(
    conn: Txn, booklet_ids: Sequence[bytes], since_ms: int
) -> Counter[bytes]:
    """Per booklet: sessions starting at or after `since_ms` that the family cancelled."""
    if not booklet_ids:
        return Counter()
    rows = conn.execute(
        "SELECT booklet_id, COUNT(*) FROM appointments"  # noqa: S608
        f" WHERE booklet_id IN ({_marks(booklet_ids)}) AND status = 'cancelled_by_family'"
        " AND start_ms >= ? GROUP BY booklet_id",
        (*booklet_ids, since_ms),
    ).fetchall()
    return Counter({bytes(r[0]): int(r[1]) for r in rows})


def problem_counts_txn(conn: Txn, account_id: bytes) -> Counter[bytes]:
    """Per booklet: notices that did not, or may not, reach the family (as the problems list)."""
    views = problems_for_therapist_txn(conn, account_id, limit=10_000)
    return Counter(v.booklet_id for v in views if v.booklet_id is not None)
