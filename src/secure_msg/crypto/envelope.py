"""Entry envelopes (§4): seal, server-side verify with public keys only, recipient open."""

from __future__ import annotations

import hmac
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from . import hpke, labels
from .encoding import PREFIX_LEN, Reader, fixed, prefix, u8, u16, u32, u64
from .errors import ProtocolError
from .keys import AccountKeys
from .primitives import aes_gcm_decrypt, aes_gcm_encrypt, sha256, sign, verify
from .rng import Rng, system_rng

KINDS = {1: "title", 2: "note", 3: "homework", 4: "homework-log", 5: "document", 6: "system"}
KIND_IDS = {name: kind for kind, name in KINDS.items()}
HEADER_LEN = 145
WRAP_LEN = 128
SIGNATURE_LEN = 64
TAG_LEN = 16
MAX_BODY = 16 * 1024 * 1024 + TAG_LEN
MAX_RECIPIENTS = 64
ZERO_HASH = b"\x00" * 32


@dataclass(frozen=True)
class EntryHeader:
    booklet_id: bytes
    entry_id: bytes
    author_id: bytes
    kind: int
    sequence: int
    prev_hash: bytes
    created_at: int
    nonce: bytes
    key_commitment: bytes  # SHA-256 of the content key under its label (§4.1)

    def encode(self) -> bytes:
        return b"".join(
            (
                prefix(labels.TYPE_ENTRY),
                fixed(self.booklet_id, 16, "booklet_id"),
                fixed(self.entry_id, 16, "entry_id"),
                fixed(self.author_id, 16, "author_id"),
                u8(self.kind),
                u64(self.sequence),
                fixed(self.prev_hash, 32, "prev_hash"),
                u64(self.created_at),
                fixed(self.nonce, 12, "nonce"),
                fixed(self.key_commitment, 32, "key_commitment"),
            )
        )

    @property
    def kind_name(self) -> str:
        return KINDS[self.kind]


@dataclass(frozen=True)
class Wrap:
    recipient_id: bytes
    recipient_ek: bytes
    enc: bytes
    wrapped_key: bytes


@dataclass(frozen=True)
class Envelope:
    """A parsed, not yet verified envelope."""

    header: EntryHeader
    header_bytes: bytes
    body: bytes
    wraps: tuple[Wrap, ...]
    signed_part: bytes
    signature: bytes
    raw: bytes

    @property
    def header_hash(self) -> bytes:
        return sha256(labels.ENTRY_HEADER, self.header_bytes)

    @property
    def entry_hash(self) -> bytes:
        return entry_hash(self.raw)


@dataclass(frozen=True)
class VerifiedEntry:
    header: EntryHeader
    entry_hash: bytes
    body_len: int


@dataclass(frozen=True)
class OpenedEntry:
    header: EntryHeader
    plaintext: bytes
    content_key: bytes
    entry_hash: bytes


def entry_hash(envelope: bytes) -> bytes:
    return sha256(labels.ENTRY_HASH, envelope)


def key_commitment(content_key: bytes) -> bytes:
    """What a type 0x11 header commits to (§4.1): AES-GCM alone is not key-committing."""
    return sha256(labels.ENTRY_KEY_COMMITMENT, content_key)


def wrap_info(header_hash: bytes, recipient_id: bytes, recipient_ek: bytes) -> bytes:
    return labels.labelled(labels.ENTRY_KEY, header_hash, recipient_id, recipient_ek)


_HEADER = struct.Struct(">16s16s16sBQ32sQ12s32s")


def parse_envelope(data: bytes) -> Envelope:
    """Checks 1-4 of §4.3: prefix, layout, kind, canonical recipient order.

    Unpacks with struct rather than field by field: this runs on every post, and the server's
    whole check should cost little more than the one signature verification in it.
    """
    data = bytes(data)
    r = Reader(data[:PREFIX_LEN])
    r.prefix(labels.TYPE_ENTRY)
    if len(data) < HEADER_LEN + 4:
        raise ProtocolError("truncated")
    header = EntryHeader(*_HEADER.unpack_from(data, PREFIX_LEN))
    (body_len,) = struct.unpack_from(">I", data, HEADER_LEN)
    if body_len < TAG_LEN or body_len > MAX_BODY:
        raise ProtocolError("malformed", "body length out of bounds")
    if header.sequence == 0:
        raise ProtocolError("malformed", "sequences start at 1")
    body_end = HEADER_LEN + 4 + body_len
    if len(data) < body_end + 2:
        raise ProtocolError("truncated")
    (count,) = struct.unpack_from(">H", data, body_end)
    if not 1 <= count <= MAX_RECIPIENTS:
        raise ProtocolError("bad-recipient-count")
    signed_len = body_end + 2 + WRAP_LEN * count
    if len(data) < signed_len + SIGNATURE_LEN:
        raise ProtocolError("truncated")
    if len(data) > signed_len + SIGNATURE_LEN:
        raise ProtocolError("trailing-data")
    wraps = tuple(
        Wrap(data[o : o + 16], data[o + 16 : o + 48], data[o + 48 : o + 80], data[o + 80 : o + 128])
        for o in range(body_end + 2, signed_len, WRAP_LEN)
    )
    if header.kind not in KINDS:
        raise ProtocolError("unknown-kind")
    ids = [w.recipient_id for w in wraps]
    if any(a >= b for a, b in pairwise(ids)):
        raise ProtocolError("recipients-not-canonical")
    return Envelope(
        header,
        data[:HEADER_LEN],
        data[HEADER_LEN + 4 : body_end],
        wraps,
        data[:signed_len],
        data[signed_len:],
        data,
    )


def _parse_and_check_signature(data: bytes, author_identity_key: bytes) -> Envelope:
    env = parse_envelope(data)
    verify(author_identity_key, env.signature, labels.ENTRY_SIGNATURE, env.signed_part)
    return env


def verify_entry(
    data: bytes,
    *,
    author_identity_key: bytes,
    booklet_id: bytes,
    author_id: bytes,
    recipients: Mapping[bytes, bytes],
) -> VerifiedEntry:
    """The server's check (§4.3): needs no private key. `recipients` maps account id → active EK."""
    env = _parse_and_check_signature(data, author_identity_key)
    if env.header.author_id != author_id:
        raise ProtocolError("wrong-author")
    if env.header.booklet_id != booklet_id:
        raise ProtocolError("wrong-booklet")
    if {(w.recipient_id, w.recipient_ek) for w in env.wraps} != set(recipients.items()):
        raise ProtocolError("recipient-set-mismatch")
    return VerifiedEntry(env.header, env.entry_hash, len(env.body))


def _decrypt_body(env: Envelope, content_key: bytes) -> bytes:
    """Check 9a of §4.4, then AES-GCM: the key must be the one the author's signed header
    commits to, so every recipient who opens the entry reads the same plaintext."""
    if len(content_key) != 32:
        raise ProtocolError("malformed", "content key length")
    if not hmac.compare_digest(key_commitment(content_key), env.header.key_commitment):
        raise ProtocolError("key-commitment-mismatch")
    return aes_gcm_decrypt(
        content_key, env.header.nonce, env.body, env.header_bytes, "decrypt-failed"
    )


def _check_place(env: Envelope, booklet_id: bytes, author_id: bytes) -> None:
    """The entry is shown where it belongs: a server cannot move one between booklets, nor
    attribute it to an author other than the one whose key signed it (§4.4 checks 6-7)."""
    if env.header.author_id != author_id:
        raise ProtocolError("wrong-author")
    if env.header.booklet_id != booklet_id:
        raise ProtocolError("wrong-booklet")


def open_entry(
    data: bytes, *, author_identity_key: bytes, author_id: bytes, booklet_id: bytes,
    me: AccountKeys,
) -> OpenedEntry:
    """A recipient's open (§4.4), with the pinned identity key of the account `author_id`."""
    env = _parse_and_check_signature(data, author_identity_key)
    _check_place(env, booklet_id, author_id)
    mine = [
        w
        for w in env.wraps
        if w.recipient_id == me.account_id and w.recipient_ek == me.encryption_public
    ]
    if not mine:
        raise ProtocolError("not-a-recipient")
    wrap = mine[0]
    info = wrap_info(env.header_hash, wrap.recipient_id, wrap.recipient_ek)
    content_key = hpke.open_(me.encryption, info, wrap.enc + wrap.wrapped_key)
    if len(content_key) != 32:
        raise ProtocolError("unwrap-failed", "content key length")
    return OpenedEntry(env.header, _decrypt_body(env, content_key), content_key, env.entry_hash)


def open_entry_with_key(
    data: bytes, *, author_identity_key: bytes, author_id: bytes, booklet_id: bytes,
    entry_id: bytes, content_key: bytes, expected_hash: bytes,
) -> OpenedEntry:
    """Open an entry whose key came from a history grant (§5) for `entry_id` in `booklet_id`."""
    env = _parse_and_check_signature(data, author_identity_key)
    _check_place(env, booklet_id, author_id)
    if env.header.entry_id != entry_id:
        raise ProtocolError("entry-hash-mismatch", "grant item names another entry")
    if env.entry_hash != expected_hash:
        raise ProtocolError("entry-hash-mismatch")
    return OpenedEntry(env.header, _decrypt_body(env, content_key), content_key, env.entry_hash)


def seal_entry(
    author: AccountKeys,
    *,
    booklet_id: bytes,
    entry_id: bytes,
    kind: int,
    sequence: int,
    prev_hash: bytes,
    created_at: int,
    plaintext: bytes,
    recipients: Sequence[tuple[bytes, bytes]],
    rng: Rng | None = None,
) -> bytes:
    """Seal and sign (§4.2). `recipients` are (account id, EK) pairs, in any order.

    With an injected `rng` every random input, HPKE ephemerals included, comes from it (vectors).
    """
    if kind not in KINDS:
        raise ValueError("unknown entry kind")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError("an entry needs 1 to 64 recipients")
    ordered = sorted(recipients)
    if len({rid for rid, _ in ordered}) != len(ordered):
        raise ValueError("a recipient appears twice")
    draw = rng or system_rng
    content_key, nonce = draw(32), draw(12)
    header = EntryHeader(
        booklet_id, entry_id, author.account_id, kind, sequence, prev_hash, created_at, nonce,
        key_commitment(content_key),
    ).encode()
    body = aes_gcm_encrypt(content_key, nonce, plaintext, header)
    header_hash = sha256(labels.ENTRY_HEADER, header)
    parts = [header, u32(len(body)), body, u16(len(ordered))]
    for rid, ek in ordered:
        info = wrap_info(header_hash, fixed(rid, 16, "recipient id"), fixed(ek, 32, "EK"))
        parts += [rid, ek, hpke.seal(ek, info, content_key, ephemeral=rng(32) if rng else None)]
    unsigned = b"".join(parts)
    return unsigned + sign(author.identity, labels.ENTRY_SIGNATURE, unsigned)
