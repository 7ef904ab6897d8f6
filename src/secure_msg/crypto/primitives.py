"""Thin, typed wrappers over `cryptography` and libsodium (PyNaCl) so every failure becomes a
ProtocolError."""

from __future__ import annotations

import functools
import hashlib

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ProtocolError
from .labels import labelled


def hkdf32(ikm: bytes, label: bytes) -> bytes:
    """HKDF-SHA256, empty salt, info = label || 0x00, 32 bytes (docs/protocol.md §2)."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=labelled(label)).derive(ikm)


def sha256(label: bytes, *parts: bytes) -> bytes:
    return hashlib.sha256(labelled(label, *parts)).digest()


@functools.lru_cache(maxsize=4096)
def ed25519_public(key: bytes) -> bytes:
    """A checked Ed25519 public key. Cached: the server verifies the same few authors' keys on
    every post, and the point check costs a fifth of a signature verification."""
    if len(key) != 32:
        raise ProtocolError("invalid-key", "Ed25519 public key must be 32 bytes")
    # Small-order and non-canonical points verify forged signatures for every message (a key
    # of order 8 admits "signatures" anyone can make), so they are never an identity key.
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(key):
        raise ProtocolError("invalid-key", "Ed25519 public key of small order or not canonical")
    return key


def sign(key: Ed25519PrivateKey, label: bytes, message: bytes) -> bytes:
    return key.sign(labelled(label, message))


def verify(public: bytes, signature: bytes, label: bytes, message: bytes) -> None:
    verify_unlabelled(public, signature, labelled(label, message))


def verify_unlabelled(public: bytes, signature: bytes, data: bytes) -> None:
    """Ed25519 by libsodium: about 1.8 times faster here than through `cryptography`
    (bench/crypto.py), and strict (canonical S, no small-order R or A), so no signature it
    accepts is malleable. Protocol code calls `verify`; this one serves the standard vectors."""
    key = ed25519_public(public)
    if len(signature) != 64:
        raise ProtocolError("bad-signature")
    try:
        nacl.bindings.crypto_sign_open(signature + data, key)
    except nacl.exceptions.BadSignatureError as exc:
        raise ProtocolError("bad-signature") from exc


def aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, code: str) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise ProtocolError(code) from exc
