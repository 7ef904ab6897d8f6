"""Failed attempts kept in the database (services/shared_limits.py, storage/rate_limits.py), on
both backends: what is stored (a keyed hash, the wall-clock time), that two books on one
database share the counts, and that expired rows go."""

from __future__ import annotations

import functools
import hashlib

import pytest

from secure_msg.clock import FixedClock
from secure_msg.crypto.vault import Vault
from secure_msg.errors import RateLimited
from secure_msg.services.inbound_service import InboundLimits
from secure_msg.services.login_limits import LoginLimits, LoginLimitSettings, Purpose
from secure_msg.services.shared_limits import SWEEP_EVERY_MS, SharedFailures
from secure_msg.storage import rate_limits as store
from secure_msg.storage.db import Database
from secure_msg.storage.txn import Txn

SETTINGS = LoginLimitSettings(per_name_and_client=3, per_name=5, per_client=4, window_seconds=60)


def _rows(conn: Txn) -> list[tuple[str, bytes, int, int]]:
    return [(r[0], bytes(r[1]), r[2], r[3]) for r in conn.execute(
        "SELECT scope, key_hash, at_ms, expires_ms FROM rate_limit_failures ORDER BY id")]


async def test_rows_hold_a_keyed_hash_and_the_wall_clock(
        db: Database, clock: FixedClock, vault: Vault) -> None:
    """No login name, address or number in clear, nor its plain SHA-256; times are the clock's
    wall time (another process's monotonic clock would not compare)."""
    limits = LoginLimits(SharedFailures(db, clock, vault), SETTINGS)
    await limits.begin(Purpose.LOGIN, "kohde", "203.0.113.7")
    rows = await db.read(_rows)
    assert sorted(r[0] for r in rows) == ["login.client", "login.name", "login.pair"]
    now = clock.now_ms()
    assert {(r[2], r[3]) for r in rows} == {(now, now + 60_000)}
    book = SharedFailures(db, clock, vault)
    other = SharedFailures(db, clock, Vault(b"\x01" * 32, b"\x02" * 32, lambda n: b"\0" * n))
    keys = {"login.pair": b"login\x00kohde\x00203.0.113.7", "login.client": b"203.0.113.7",
            "login.name": b"login\x00kohde"}
    for scope, _, _, key_hash in [(r[0], 0, 0, r[1]) for r in rows]:
        assert key_hash == book.hash_key(scope, keys[scope])  # HMAC under our blind-index key
        assert key_hash != other.hash_key(scope, keys[scope])  # not without that key
        assert key_hash != hashlib.sha256(keys[scope]).digest()
        assert b"kohde" not in key_hash


async def test_two_books_on_one_database_share_the_counts(
        db: Database, clock: FixedClock, vault: Vault) -> None:
    """What two processes do: each has its own book (and its own sweep timer), one database."""
    a = LoginLimits(SharedFailures(db, clock, vault), SETTINGS)
    b = LoginLimits(SharedFailures(db, clock, vault), SETTINGS)
    for limits in (a, b, a):
        await limits.begin(Purpose.LOGIN, "kohde", "203.0.113.7")
    with pytest.raises(RateLimited) as refused:
        await b.begin(Purpose.LOGIN, "kohde", "203.0.113.7")
    assert refused.value.retry_after_seconds == 60


async def test_inbound_cancel_limits_in_the_database(
        db: Database, clock: FixedClock, vault: Vault) -> None:
    """Failed cancels per number and per appointment, checked inside the webhook's write and
    outside it (the voice menu reads), expire with their window."""
    limits = InboundLimits(SharedFailures(db, clock, vault), max_failures=2, window_seconds=100)
    await db.write(lambda c: limits.fail(c, "+358401", [b"a1"]))
    assert not await limits.blocked_now("+358401")
    await db.write(lambda c: limits.fail(c, "+358401", [b"a1", b"a2"]))
    assert await db.write(lambda c: limits.blocked(c, "+358401"))
    assert await limits.blocked_now("+358402", [b"a1"])
    assert not await limits.blocked_now("+358402", [b"a2"])
    clock.advance(100)
    assert not await limits.blocked_now("+358401", [b"a1", b"a2"])
    assert await db.write(lambda c: limits.may_reply(c, "+8823901", guardian=False))
    assert not await db.write(lambda c: limits.may_reply(c, "+8823901", guardian=False))


async def test_expired_rows_are_deleted(db: Database, clock: FixedClock, vault: Vault) -> None:
    """Keys are attacker-chosen: a row outlives its window by at most the sweep interval."""
    book = SharedFailures(db, clock, vault)
    limits = LoginLimits(book, SETTINGS)
    for i in range(20):
        await limits.begin(Purpose.LOGIN, f"name{i}", f"198.51.100.{i}")
    assert await db.read(store.count_txn) == 60
    clock.advance(60 + SWEEP_EVERY_MS / 1000)
    await limits.begin(Purpose.LOGIN, "kohde", "203.0.113.7")
    assert await db.read(store.count_txn) == 3
    assert await db.write(functools.partial(store.expire_txn, now_ms=clock.now_ms() + 60_000)) == 3
