"""History grants (§5): an existing member re-wraps earlier content keys to a newcomer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from . import hpke, labels
from .encoding import Reader, fixed, prefix, u32, u64
from .errors import ProtocolError
from .keys import AccountKeys
from .primitives import sign, verify
from .rng import Rng

MAX_ITEMS = 100_000


@dataclass(frozen=True)
class GrantItem:
    entry_id: bytes
    entry_hash: bytes
    enc: bytes
    wrapped_key: bytes


@dataclass(frozen=True)
class Grant:
    booklet_id: bytes
    granter_id: bytes
    grantee_id: bytes
    grantee_ek: bytes
    created_at: int
    items: tuple[GrantItem, ...]
    signed_part: bytes
    signature: bytes


def item_info(
    booklet_id: bytes, entry_id: bytes, entry_hash: bytes, grantee_id: bytes, grantee_ek: bytes
) -> bytes:
    return labels.labelled(
        labels.GRANT_KEY, booklet_id, entry_id, entry_hash, grantee_id, grantee_ek
    )


def parse_grant(data: bytes) -> Grant:
    r = Reader(data)
    r.prefix(labels.TYPE_GRANT)
    head = (r.take(16), r.take(16), r.take(16), r.take(32), r.u64())
    count = r.u32()
    if not 1 <= count <= MAX_ITEMS:
        raise ProtocolError("bad-item-count")
    if r.remaining() < count * 128:
        raise ProtocolError("truncated")
    items = tuple(GrantItem(r.take(16), r.take(32), r.take(32), r.take(48)) for _ in range(count))
    signed_len = r.position
    signature = r.take(64)
    r.end()
    ids = [i.entry_id for i in items]
    if any(a >= b for a, b in pairwise(ids)):
        raise ProtocolError("items-not-canonical")
    return Grant(*head, items, bytes(data[:signed_len]), signature)


def verify_grant(
    data: bytes,
    *,
    granter_identity_key: bytes,
    booklet_id: bytes,
    granter_id: bytes,
    grantee_id: bytes,
    grantee_ek: bytes,
    entry_hashes: Mapping[bytes, bytes],
) -> Grant:
    """The server's check: `entry_hashes` maps the booklet's entry ids to their entry hashes."""
    g = parse_grant(data)
    verify(granter_identity_key, g.signature, labels.GRANT_SIGNATURE, g.signed_part)
    if g.booklet_id != booklet_id:
        raise ProtocolError("wrong-booklet")
    if g.granter_id != granter_id:
        raise ProtocolError("wrong-author")
    if g.grantee_id != grantee_id:
        raise ProtocolError("wrong-grantee")
    if g.grantee_ek != grantee_ek:
        raise ProtocolError("grantee-key-mismatch")
    for item in g.items:
        known = entry_hashes.get(item.entry_id)
        if known is None:
            raise ProtocolError("unknown-entry")
        if known != item.entry_hash:
            raise ProtocolError("entry-hash-mismatch")
    return g


def seal_grant(
    granter: AccountKeys,
    *,
    booklet_id: bytes,
    grantee_id: bytes,
    grantee_ek: bytes,
    created_at: int,
    keys: Sequence[tuple[bytes, bytes, bytes]],
    rng: Rng | None = None,
) -> bytes:
    """`keys` are (entry id, entry hash, content key) triples, in any order."""
    if not 1 <= len(keys) <= MAX_ITEMS:
        raise ValueError("a grant carries 1 to 100 000 entries")
    parts = [
        prefix(labels.TYPE_GRANT),
        fixed(booklet_id, 16, "booklet_id"),
        granter.account_id,
        fixed(grantee_id, 16, "grantee_id"),
        fixed(grantee_ek, 32, "grantee_ek"),
        u64(created_at),
        u32(len(keys)),
    ]
    for entry_id, ehash, content_key in sorted(keys):
        info = item_info(booklet_id, entry_id, ehash, grantee_id, grantee_ek)
        sealed = hpke.seal(grantee_ek, info, content_key, ephemeral=rng(32) if rng else None)
        parts += [fixed(entry_id, 16, "entry_id"), fixed(ehash, 32, "entry_hash"), sealed]
    unsigned = b"".join(parts)
    return unsigned + sign(granter.identity, labels.GRANT_SIGNATURE, unsigned)


def open_grant(
    data: bytes, *, granter_identity_key: bytes, me: AccountKeys
) -> dict[bytes, tuple[bytes, bytes]]:
    """The grantee's open: entry id → (entry hash, content key). Entries are then opened with
    `envelope.open_entry_with_key`, which checks each entry's own signature and hash."""
    g = parse_grant(data)
    verify(granter_identity_key, g.signature, labels.GRANT_SIGNATURE, g.signed_part)
    if g.grantee_id != me.account_id:
        raise ProtocolError("wrong-grantee")
    if g.grantee_ek != me.encryption_public:
        raise ProtocolError("grantee-key-mismatch")
    out: dict[bytes, tuple[bytes, bytes]] = {}
    for item in g.items:
        info = item_info(g.booklet_id, item.entry_id, item.entry_hash, g.grantee_id, g.grantee_ek)
        key = hpke.open_(me.encryption, info, item.enc + item.wrapped_key)
        if len(key) != 32:
            raise ProtocolError("unwrap-failed", "content key length")
        out[item.entry_id] = (item.entry_hash, key)
    return out
