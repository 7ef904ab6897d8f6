"""Sharing one file with someone outside the booklet (docs/protocol.md §4.8), sans-IO.

The sharer's device seals the file's attachment record (its key, id, name, type, size and
hash, §4.5) under a share key derived from two secrets that travel apart: `link_secret`, only in
the link's fragment (which browsers never send to the server), and an 8-digit `code` the server
sends by SMS. The server stores the sealed record and a verifier of an access token derived
from both: it can rate-limit guesses of the code without being able to open the record, since
it never sees the link secret; the e-mail provider sees the link but not the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import labels
from .attachments import Attachment, check_attachment
from .encoding import PREFIX_LEN, prefix
from .errors import ProtocolError
from .primitives import aes_gcm_decrypt, aes_gcm_encrypt
from .rng import Rng, system_rng

SHARE_ID_LEN = 16
LINK_SECRET_LEN = 16  # 128 bits: what an offline guess of the key must cover
CODE_DIGITS = 8
NONCE_LEN = 12
HEAD_LEN = PREFIX_LEN + SHARE_ID_LEN  # the AAD
MIN_SEALED = HEAD_LEN + NONCE_LEN + 16
MAX_SEALED = 4096  # a record is a few hundred bytes; the server refuses more
_CODE = re.compile(r"[0-9]{8}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_B64_SECRET = re.compile(r"[A-Za-z0-9_-]{22}")
# 42 · 10^8 ≤ 2^32: a 32-bit draw below it, mod 10^8, is uniform over the codes.
_CODE_LIMIT = 42 * 10**8


def _hkdf(ikm: bytes, label: bytes, share_id: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None,
                info=labels.labelled(label, share_id)).derive(ikm)


def check_code(code: str) -> str:
    """The SMS code as typed: spaces and dashes dropped, then exactly 8 ASCII digits."""
    cleaned = re.sub(r"[\s-]", "", code)
    if not _CODE.fullmatch(cleaned):
        raise ProtocolError("share-code-malformed", "the code is 8 digits")
    return cleaned


@dataclass(frozen=True)
class ShareKeys:
    key: bytes  # AES-256-GCM key of the sealed record
    token: bytes  # sent to the server to open the share
    verifier: bytes  # what the server stores to check the token


def derive(share_id: bytes, link_secret: bytes, code: str) -> ShareKeys:
    """The share key, the access token and its verifier (§4.8)."""
    if len(share_id) != SHARE_ID_LEN or len(link_secret) != LINK_SECRET_LEN:
        raise ProtocolError("share-link-malformed")
    ikm = link_secret + check_code(code).encode("ascii")
    token = _hkdf(ikm, labels.SHARE_ACCESS, share_id)
    return ShareKeys(_hkdf(ikm, labels.SHARE_KEY, share_id), token, verifier(token))


def verifier(token: bytes) -> bytes:
    return hashlib.sha256(labels.labelled(labels.SHARE_VERIFIER, token)).digest()


def token_matches(token: bytes, stored_verifier: bytes) -> bool:
    """The server's check, in constant time."""
    return len(token) == 32 and hmac.compare_digest(verifier(token), stored_verifier)


def new_code(rng: Rng = system_rng) -> str:
    """8 uniformly random digits (rejection sampling of 32-bit draws)."""
    while True:
        v = int.from_bytes(rng(4), "big")
        if v < _CODE_LIMIT:
            return f"{v % 10**CODE_DIGITS:08d}"


@dataclass(frozen=True)
class SharedFile:
    """What a share opens to: the booklet the blob is in, and the attachment record."""

    booklet_id: bytes
    attachment: Attachment

    def to_json_bytes(self) -> bytes:
        body = {"booklet_id": self.booklet_id.hex(), **self.attachment.to_json()}
        return json.dumps(body, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> SharedFile:
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError("bad-payload", "share record is not JSON") from exc
        if not isinstance(value, dict):
            raise ProtocolError("bad-payload", "share record is not an object")
        booklet = value.get("booklet_id")
        if not isinstance(booklet, str) or not _HEX32.fullmatch(booklet):
            raise ProtocolError("bad-payload", "share booklet_id")
        a = check_attachment(value)
        att = Attachment(a["blob_id"], bytes.fromhex(a["file_id"]), bytes.fromhex(a["key"]),
                         a["name"], a["media_type"], a["size"], bytes.fromhex(a["sha256"]))
        return cls(bytes.fromhex(booklet), att)


def head(share_id: bytes) -> bytes:
    return prefix(labels.TYPE_SHARE) + share_id


def seal(keys: ShareKeys, share_id: bytes, shared: SharedFile, nonce: bytes) -> bytes:
    """The sealed share (type 0x51): prefix ‖ share_id ‖ nonce ‖ AES-256-GCM(record)."""
    if len(nonce) != NONCE_LEN:
        raise ValueError("nonce must be 12 bytes")
    h = head(share_id)
    return h + nonce + aes_gcm_encrypt(keys.key, nonce, shared.to_json_bytes(), h)


def parse_sealed(sealed: bytes) -> bytes:
    """The share id of a sealed share, checking its layout (no key needed: the server's check)."""
    if len(sealed) < MIN_SEALED:
        raise ProtocolError("truncated", "sealed share")
    if len(sealed) > MAX_SEALED:
        raise ProtocolError("malformed", "sealed share too long")
    if sealed[0] != labels.VERSION:
        raise ProtocolError("unsupported-version")
    if int.from_bytes(sealed[1:3], "big") != labels.SUITE:
        raise ProtocolError("unsupported-suite")
    if sealed[3] != labels.TYPE_SHARE:
        raise ProtocolError("wrong-type")
    return bytes(sealed[PREFIX_LEN:HEAD_LEN])


def open_sealed(keys: ShareKeys, share_id: bytes, sealed: bytes) -> SharedFile:
    """The recipient's open: layout, the share id it was opened as, then AES-GCM."""
    if parse_sealed(sealed) != share_id:
        raise ProtocolError("share-decrypt-failed", "sealed for another share")
    nonce = sealed[HEAD_LEN:HEAD_LEN + NONCE_LEN]
    plain = aes_gcm_decrypt(keys.key, nonce, sealed[HEAD_LEN + NONCE_LEN:],
                            sealed[:HEAD_LEN], "share-decrypt-failed")
    return SharedFile.from_json_bytes(plain)


# -- the link ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def link(base_url: str, share_id: bytes, link_secret: bytes) -> str:
    """`{base}/share/#{share_id hex}.{link_secret base64url}`: all that is secret is in the
    fragment, which the browser keeps to itself."""
    return f"{base_url.rstrip('/')}/share/#{share_id.hex()}.{_b64(link_secret)}"


def parse_fragment(fragment: str) -> tuple[bytes, bytes]:
    """(share_id, link_secret) from the fragment of a link (with or without its '#')."""
    ident, dot, secret = fragment.removeprefix("#").partition(".")
    if not dot or not _HEX32.fullmatch(ident) or not _B64_SECRET.fullmatch(secret):
        raise ProtocolError("share-link-malformed")
    raw = base64.urlsafe_b64decode(secret + "==")
    if _b64(raw) != secret:  # non-canonical last character
        raise ProtocolError("share-link-malformed")
    return bytes.fromhex(ident), raw


@dataclass(frozen=True)
class NewShare:
    share_id: bytes
    link_secret: bytes
    code: str
    keys: ShareKeys
    sealed: bytes


def create(shared: SharedFile, rng: Rng = system_rng) -> NewShare:
    """Draw the share id, link secret, code and nonce (in that order) and seal the record."""
    share_id = rng(SHARE_ID_LEN)
    link_secret = rng(LINK_SECRET_LEN)
    code = new_code(rng)
    keys = derive(share_id, link_secret, code)
    return NewShare(share_id, link_secret, code, keys, seal(keys, share_id, shared,
                                                            rng(NONCE_LEN)))
