"""Each account's sealed client state (docs/protocol.md §6.5): one opaque blob and its version.

Writes are a compare-and-swap on the version, run inside the writer's transaction, so two
devices that merged with the same stored version cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass

from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class StoredState:
    version: int  # 0 when nothing is stored
    blob: bytes | None


@dataclass(frozen=True)
class SwapResult:
    stored: bool
    current_version: int  # the version now stored: the new one, or the one that won


def get_txn(conn: Txn, account_id: bytes) -> StoredState:
    row = conn.execute(
        "SELECT version, blob FROM client_state WHERE account_id = ?", (account_id,)
    ).fetchone()
    return StoredState(int(row[0]), bytes(row[1])) if row else StoredState(0, None)


def compare_and_swap_txn(
    conn: Txn, account_id: bytes, *, base_version: int, version: int,
    blob: bytes, now_ms: int,
) -> SwapResult:
    """Store `blob` as `version` only if the stored version is `base_version` (0: none yet)."""
    row = conn.execute(
        "SELECT version FROM client_state WHERE account_id = ?", (account_id,)
    ).fetchone()
    current = int(row[0]) if row else 0
    if current != base_version:
        return SwapResult(False, current)
    conn.execute(
        "INSERT INTO client_state (account_id, version, blob, updated_at_ms) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (account_id) DO UPDATE SET version = excluded.version,"
        " blob = excluded.blob, updated_at_ms = excluded.updated_at_ms",
        (account_id, version, blob, now_ms),
    )
    return SwapResult(True, version)
