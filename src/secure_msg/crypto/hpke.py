"""HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.

Production seals and opens go through `cryptography`'s `hpke.Suite`. That API has no way to inject
the ephemeral key, no AAD, no sequence numbers and no exporter, which exact test vectors need, so
this module also carries the RFC 9180 key schedule over the same library's primitives. Tests pin the
two together: the schedule reproduces the RFC vectors, and each side opens what the other sealed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives import hpke as _hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from .errors import ProtocolError

KEM_ID = 0x0020
KDF_ID = 0x0001
AEAD_ID = 0x0002
MODE_BASE = 0x00
N_ENC = 32
N_K = 32
N_N = 12
N_H = 32
TAG_LEN = 16

_KEM_SUITE_ID = b"KEM" + struct.pack(">H", KEM_ID)
_HPKE_SUITE_ID = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)
_SUITE = _hpke.Suite(_hpke.KEM.X25519, _hpke.KDF.HKDF_SHA256, _hpke.AEAD.AES_256_GCM)


def _extract(salt: bytes, ikm: bytes) -> bytes:
    mac = hmac.HMAC(salt or b"\x00" * N_H, hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, struct.pack(">H", length) + b"HPKE-v1" + suite_id + label + info, length)


def public_key(key: bytes) -> X25519PublicKey:
    if len(key) != 32:
        raise ProtocolError("invalid-key", "X25519 public key must be 32 bytes")
    return X25519PublicKey.from_public_bytes(key)


def _dh(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    try:
        return private.exchange(public)
    except ValueError as exc:  # all-zero shared secret: a low-order public key
        raise ProtocolError("invalid-key", "X25519 exchange rejected the public key") from exc


def _shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE_ID, prk, b"shared_secret", enc + pk_r, N_H)


@dataclass
class Context:
    """An HPKE encryption context (RFC 9180 §5.2) with its sequence number."""

    key: bytes
    base_nonce: bytes
    exporter_secret: bytes
    seq: int = 0

    def _nonce(self) -> bytes:
        seq = self.seq.to_bytes(N_N, "big")
        return bytes(a ^ b for a, b in zip(self.base_nonce, seq, strict=True))

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        out = AESGCM(self.key).encrypt(self._nonce(), plaintext, aad)
        self.seq += 1
        return out

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        try:
            out = AESGCM(self.key).decrypt(self._nonce(), ciphertext, aad)
        except InvalidTag as exc:
            raise ProtocolError("unwrap-failed") from exc
        self.seq += 1
        return out

    def export(self, exporter_context: bytes, length: int) -> bytes:
        return _labeled_expand(
            _HPKE_SUITE_ID, self.exporter_secret, b"sec", exporter_context, length
        )


def key_schedule(shared_secret: bytes, info: bytes) -> Context:
    psk_id_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"info_hash", info)
    context = bytes([MODE_BASE]) + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE_ID, shared_secret, b"secret", b"")
    return Context(
        key=_labeled_expand(_HPKE_SUITE_ID, secret, b"key", context, N_K),
        base_nonce=_labeled_expand(_HPKE_SUITE_ID, secret, b"base_nonce", context, N_N),
        exporter_secret=_labeled_expand(_HPKE_SUITE_ID, secret, b"exp", context, N_H),
    )


def setup_sender(pk_r: bytes, info: bytes, ephemeral: bytes) -> tuple[bytes, Context]:
    """SetupBaseS with a given ephemeral private key; returns (enc, context)."""
    sk_e = X25519PrivateKey.from_private_bytes(ephemeral)
    enc = sk_e.public_key().public_bytes_raw()
    dh = _dh(sk_e, public_key(pk_r))
    return enc, key_schedule(_shared_secret(dh, enc, pk_r), info)


def setup_receiver(enc: bytes, sk_r: X25519PrivateKey, info: bytes) -> Context:
    """SetupBaseR; the RFC vectors' many encryptions per context go through this."""
    dh = _dh(sk_r, public_key(enc))
    pk_r = sk_r.public_key().public_bytes_raw()
    return key_schedule(_shared_secret(dh, enc, pk_r), info)


def seal(pk_r: bytes, info: bytes, plaintext: bytes, *, ephemeral: bytes | None = None) -> bytes:
    """Single-shot SealBase with empty AAD; returns enc || ciphertext.

    With `ephemeral` (vectors only) the schedule above runs; otherwise `cryptography`'s Suite.
    """
    if ephemeral is not None:
        enc, ctx = setup_sender(pk_r, info, ephemeral)
        return enc + ctx.seal(plaintext)
    try:
        return _SUITE.encrypt(plaintext, public_key(pk_r), info=info)
    except ValueError as exc:
        raise ProtocolError("invalid-key", "HPKE rejected the recipient key") from exc


def open_(sk_r: X25519PrivateKey, info: bytes, sealed: bytes) -> bytes:
    """Single-shot OpenBase with empty AAD of enc || ciphertext."""
    if len(sealed) < N_ENC + TAG_LEN:
        raise ProtocolError("unwrap-failed", "sealed key too short")
    try:
        return _SUITE.decrypt(sealed, sk_r, info=info)
    except (InvalidTag, ValueError) as exc:
        raise ProtocolError("unwrap-failed") from exc
