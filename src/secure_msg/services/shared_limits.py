"""A FailureBook in the database (services/rate_limit.py): the limits hold across every process
on one database, and across restarts.

A check and its reservation run in one write transaction; on PostgreSQL every write batch takes
the global write lock (storage/pg_db.py WRITE_LOCK), so two processes cannot both pass a full
count. Times are the clock's wall time (`now_ms`): monotonic time has a per-process origin.

Keys are hashed with the blind-index key (HMAC-SHA256 via `Vault.blind_index`) before they are
stored. A plain SHA-256 would not do: login names and phone numbers are few enough to hash
them all, so the table would tell anyone with a backup who was being guessed at.

Expired rows are deleted at most once a minute per process, inside a write that records a
failure, through an index on the expiry time. The table is bounded by the attempts a window
allows: each login failure costs an Argon2id verification first, each inbound one a signed
Twilio webhook, and a key past its limit records nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from secure_msg.clock import Clock
from secure_msg.crypto.vault import Vault
from secure_msg.services.rate_limit import FailureLog, Logs
from secure_msg.storage import rate_limits as store
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

T = TypeVar("T")
SWEEP_EVERY_MS = 60_000
KEY_PURPOSE = "rate_limits.key"


class _TxnLog:
    def __init__(self, book: SharedFailures, conn: Txn, scope: str) -> None:
        self._book = book
        self._conn = conn
        self._scope = scope

    def _hash(self, key: bytes) -> bytes:
        return self._book.hash_key(self._scope, key)

    def now(self) -> float:
        return self._book.clock.now_ms() / 1000

    def times(self, key: bytes, since: float) -> list[float]:
        rows = store.times_txn(self._conn, self._scope, self._hash(key), _ms(since))
        return [at / 1000 for at in rows]

    def add(self, key: bytes, at: float, until: float) -> None:
        self._book.sweep_if_due(self._conn)
        store.add_txn(self._conn, self._scope, self._hash(key), _ms(at), _ms(until))

    def remove(self, key: bytes, at: float) -> None:
        store.remove_one_txn(self._conn, self._scope, self._hash(key), _ms(at))

    def clear(self, key: bytes) -> None:
        store.clear_txn(self._conn, self._scope, self._hash(key))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class SharedFailures:
    def __init__(self, db: Database, clock: Clock, vault: Vault) -> None:
        self.db = db
        self.clock = clock
        self._vault = vault
        self._next_sweep_ms = 0

    def hash_key(self, scope: str, key: bytes) -> bytes:
        return self._vault.blind_index(KEY_PURPOSE, f"{scope}:{key.hex()}")

    def sweep_if_due(self, conn: Txn) -> None:
        now = self.clock.now_ms()
        if now >= self._next_sweep_ms:
            store.expire_txn(conn, now)
            self._next_sweep_ms = now + SWEEP_EVERY_MS

    def logs(self, conn: Txn | None) -> Logs:
        if conn is None:
            raise TypeError("shared limits are kept in the database: pass the transaction")
        txn = conn

        def log(scope: str) -> FailureLog:
            return _TxnLog(self, txn, scope)
        return log

    async def write(self, fn: Callable[[Logs], T]) -> T:
        return await self.db.write(lambda conn: fn(self.logs(conn)))

    async def read(self, fn: Callable[[Logs], T]) -> T:
        return await self.db.read(lambda conn: fn(self.logs(conn)))
