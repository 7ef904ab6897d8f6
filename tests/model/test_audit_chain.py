"""The audit hash chain as pure functions: fixed encoding, and what verify_chain reports."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

from secure_msg.model.audit import GENESIS_HASH, AuditEvent, event_hash, verify_chain


def _chain(n: int) -> list[AuditEvent]:
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        digest = event_hash(prev, seq, seq * 10, "system", "test.event", "", "{}")
        events.append(AuditEvent(seq, seq * 10, "system", "test.event", "", {}, prev, digest))
        prev = digest
    return events


def test_hash_is_sha256_over_the_documented_encoding() -> None:
    """The encoding is label, prev hash, u64 seq, i64 time, then length-prefixed UTF-8 fields."""
    fields = b"".join(struct.pack(">I", len(f)) + f for f in (b"system", b"a.b", b"t", b"{}"))
    expected = hashlib.sha256(b"secure-msg/audit/v1\x00" + GENESIS_HASH
                              + struct.pack(">Qq", 1, 5) + fields).digest()
    assert event_hash(GENESIS_HASH, 1, 5, "system", "a.b", "t", "{}") == expected


def test_length_prefixes_prevent_field_boundary_shifts() -> None:
    """Moving characters between adjacent fields changes the hash."""
    assert event_hash(GENESIS_HASH, 1, 0, "system", "a.bc", "", "{}") != event_hash(
        GENESIS_HASH, 1, 0, "system", "a.b", "c", "{}")


def test_intact_chain_verifies() -> None:
    """A well-formed chain is reported intact with its length."""
    report = verify_chain(_chain(4))
    assert report.ok
    assert report.checked == 4


def test_edited_reordered_and_missing_events_are_reported_at_the_first_break() -> None:
    """Each kind of tampering names the first event that no longer links."""
    edited = _chain(4)
    edited[2] = dataclasses.replace(edited[2], action="test.other")
    assert verify_chain(edited).first_broken_seq == 3
    reordered = _chain(4)
    reordered[1], reordered[2] = reordered[2], reordered[1]
    assert verify_chain(reordered).first_broken_seq == 2
    missing = _chain(4)
    del missing[0]
    assert verify_chain(missing).first_broken_seq == 1
