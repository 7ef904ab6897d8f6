"""The audit log as the service manager sees it (`secure-msg admin audit …`)."""

from __future__ import annotations

from secure_msg.model.audit import AuditEvent, ChainReport
from secure_msg.storage import audit as audit_store
from secure_msg.storage.db import Database


async def verify(db: Database) -> ChainReport:
    """Check the whole hash chain in one read transaction (one consistent snapshot)."""
    return await db.read(audit_store.verify_chain_txn)


async def latest(db: Database, limit: int) -> list[AuditEvent]:
    return await db.read(lambda t: audit_store.latest_events_txn(t, limit))
