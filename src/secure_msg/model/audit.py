"""The audit log's rules: what an event may hold, how the hash chain is computed and checked.

Each event's hash is SHA-256 over a fixed binary encoding (never JSON canonicalisation):

    "secure-msg/audit/v1" 0x00 | prev_hash (32) | seq (u64 BE) | at_ms (i64 BE)
    | for actor, action, target, detail: length (u32 BE) | UTF-8 bytes

with prev_hash = 32 zero bytes for seq 1. Changing, removing, inserting or reordering any event
breaks the link at that event or the next one, which `verify_chain` reports.
Events hold no clinical content and no PII: ids ("account:12"), verbs and small counts only.
Malformed events raise ValueError: they are programming errors, never the user's input.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GENESIS_HASH = bytes(32)
_LABEL = b"secure-msg/audit/v1\x00"
_ACTION = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+")
_ACTOR = re.compile(r"system|operator|account:[0-9a-f]{32}|anonymous")
MAX_DETAIL_BYTES = 1024
DetailValue = str | int | bool | None


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at_ms: int
    actor: str
    action: str
    target: str
    detail: Mapping[str, DetailValue]
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str = ""


def encode_detail(detail: Mapping[str, DetailValue]) -> str:
    """The stored form of `detail`: sorted-key compact JSON of a small flat object of scalars."""
    for key, value in detail.items():
        if not isinstance(key, str) or not isinstance(value, str | int | bool | type(None)):
            raise ValueError("audit detail must be a flat object of scalars")
    text = json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_DETAIL_BYTES:
        raise ValueError("audit detail is too large")
    return text


def check_event_fields(actor: str, action: str, target: str) -> None:
    """Refuse values that could smuggle PII or free text into the log."""
    if not _ACTOR.fullmatch(actor):
        raise ValueError(f"audit actor must be system|operator|anonymous|account:<id>: {actor!r}")
    if not _ACTION.fullmatch(action):
        raise ValueError(f"audit action must be a dotted lower-case verb: {action!r}")
    if len(target) > 200 or "\n" in target:
        raise ValueError("audit target must be a short identifier")


def _field(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def event_hash(
    prev_hash: bytes, seq: int, at_ms: int, actor: str, action: str, target: str, detail: str
) -> bytes:
    """SHA-256 over the fixed encoding above; `detail` is the stored JSON text."""
    if len(prev_hash) != 32:
        raise ValueError("prev_hash must be 32 bytes")
    message = b"".join(
        [_LABEL, prev_hash, struct.pack(">Qq", seq, at_ms)]
        + [_field(part) for part in (actor, action, target, detail)]
    )
    return hashlib.sha256(message).digest()


def hash_of(event: AuditEvent) -> bytes:
    return event_hash(
        event.prev_hash, event.seq, event.at_ms, event.actor, event.action, event.target,
        encode_detail(event.detail),
    )


def verify_chain(events: Iterable[AuditEvent]) -> ChainReport:
    """Walk events in seq order; report the first one whose link or hash does not hold."""
    expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
    for event in events:
        reason = ""
        if event.seq != expected_seq:
            reason = f"expected event {expected_seq}, found {event.seq} (missing or reordered)"
        elif event.prev_hash != expected_prev:
            reason = "prev_hash does not match the previous event's hash"
        elif hash_of(event) != event.hash:
            reason = "hash does not match the event's contents"
        if reason:
            return ChainReport(False, checked, expected_seq if event.seq > expected_seq
                               else event.seq, reason)
        expected_prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    return ChainReport(True, checked)
