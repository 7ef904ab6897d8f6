"""Storing each account's sealed client state (docs/protocol.md §6.5).

The server cannot open the blob. It checks only what it can see in the blob's header (the
layout, that it names the session's account, that its version is the one the request says) and
stores it by compare-and-swap on the version. No audit event: a client's own state is not a
security event, and one per write would be metadata about how someone uses their devices.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from secure_msg.crypto.client_state import peek_header
from secure_msg.crypto.errors import ProtocolError
from secure_msg.errors import (
    PayloadTooLarge,
    ProtocolRejected,
    StateVersionConflict,
    ValidationFailed,
)
from secure_msg.model.accounts import Session
from secure_msg.services.account_service import Authenticate
from secure_msg.services.core import Core
from secure_msg.storage import client_state as store
from secure_msg.storage.client_state import StoredState
from secure_msg.storage.txn import Txn


@dataclass(frozen=True)
class ClientStateDeps(Core):
    max_bytes: int


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", errors=[{"field": field, "problem": problem}])


async def get(deps: ClientStateDeps, auth: Authenticate) -> StoredState:
    def txn(conn: Txn) -> StoredState:
        return store.get_txn(conn, auth(conn).account_id)

    return await deps.db.read_now(txn)


def check_blob(session: Session, blob: bytes, *, base_version: int, version: int,
               max_bytes: int) -> None:
    """What the server can check of a state it cannot open; raises the problem to answer."""
    if len(blob) > max_bytes:
        raise PayloadTooLarge(f"A client state may be at most {max_bytes} bytes.")
    if version <= base_version:
        raise _invalid("version", "must be above base_version")
    try:
        account_id, blob_version = peek_header(blob)
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    if account_id != session.account_id:
        raise ProtocolRejected("account-mismatch")
    if blob_version != version:
        raise _invalid("version", "must be the state's own version")


async def put(deps: ClientStateDeps, session: Session, blob: bytes, *, base_version: int,
              version: int) -> int:
    """Store `blob` as `version` if `base_version` is still the stored one; the new version."""
    check_blob(session, blob, base_version=base_version, version=version,
               max_bytes=deps.max_bytes)
    result = await deps.db.write(functools.partial(
        store.compare_and_swap_txn, account_id=session.account_id, base_version=base_version,
        version=version, blob=blob, now_ms=deps.clock.now_ms()))
    if not result.stored:
        raise StateVersionConflict(result.current_version)
    return result.current_version
