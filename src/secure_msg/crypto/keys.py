"""Account keys, signed key statements, password-derived keys and sealed key bundles (§3)."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from . import labels
from .encoding import Reader, fixed, prefix, u8, u32, u64
from .errors import ProtocolError
from .primitives import aes_gcm_decrypt, aes_gcm_encrypt, hkdf32, sign, verify
from .rng import Rng, system_rng

PBKDF2_ITERATIONS = 600_000
SALT_LEN = 16
BUNDLE_LEN = 84
SEALED_CT_LEN = BUNDLE_LEN + 16
PURPOSE_PASSWORD = 0x01
PURPOSE_RECOVERY = 0x02


@dataclass(frozen=True)
class KeyStatement:
    """An account's public keys, the encryption key signed by the identity key."""

    account_id: bytes
    identity_key: bytes
    encryption_key: bytes
    created_at: int
    signature: bytes

    def signed_part(self) -> bytes:
        return b"".join(
            (
                prefix(labels.TYPE_KEY_STATEMENT),
                fixed(self.account_id, 16, "account_id"),
                fixed(self.identity_key, 32, "identity_key"),
                fixed(self.encryption_key, 32, "encryption_key"),
                u64(self.created_at),
            )
        )

    def encode(self) -> bytes:
        return self.signed_part() + self.signature

    @classmethod
    def parse(cls, data: bytes) -> KeyStatement:
        r = Reader(data)
        r.prefix(labels.TYPE_KEY_STATEMENT)
        st = cls(r.take(16), r.take(32), r.take(32), r.u64(), r.take(64))
        r.end()
        return st

    def verify(self) -> None:
        """Self-signature check; pinning the identity key is the caller's job (`check_pinned`)."""
        verify(self.identity_key, self.signature, labels.KEY_STATEMENT, self.signed_part())
        check_encryption_key(self.encryption_key)

    def check_pinned(self, account_id: bytes, pinned_identity_key: bytes) -> None:
        if self.account_id != account_id:
            raise ProtocolError("account-mismatch")
        if self.identity_key != pinned_identity_key:
            raise ProtocolError("identity-key-changed")


_PROBE = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def check_encryption_key(key: bytes) -> None:
    """A low-order X25519 key makes every seal to it fail, so one member publishing such a key
    would block everyone from posting to the booklet: refuse it where it is announced."""
    try:
        _PROBE.exchange(X25519PublicKey.from_public_bytes(key))
    except ValueError as exc:
        raise ProtocolError("invalid-key", "X25519 key of low order") from exc


@dataclass(frozen=True)
class AccountKeys:
    """An account's private keys. Lives on the user's device only."""

    account_id: bytes
    identity_seed: bytes
    encryption_secret: bytes

    @classmethod
    def generate(cls, account_id: bytes, rng: Rng = system_rng) -> AccountKeys:
        return cls(fixed(account_id, 16, "account_id"), rng(32), rng(32))

    @classmethod
    def from_secrets(
        cls, account_id: bytes, identity_seed: bytes, encryption_secret: bytes
    ) -> AccountKeys:
        return cls(
            fixed(account_id, 16, "account_id"),
            fixed(identity_seed, 32, "identity_seed"),
            fixed(encryption_secret, 32, "encryption_secret"),
        )

    @property
    def identity(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.identity_seed)

    @property
    def encryption(self) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(self.encryption_secret)

    @property
    def identity_public(self) -> bytes:
        return self.identity.public_key().public_bytes_raw()

    @property
    def encryption_public(self) -> bytes:
        return self.encryption.public_key().public_bytes_raw()

    def statement(self, created_at: int) -> KeyStatement:
        unsigned = KeyStatement(
            self.account_id, self.identity_public, self.encryption_public, created_at, b""
        )
        sig = sign(self.identity, labels.KEY_STATEMENT, unsigned.signed_part())
        return KeyStatement(
            self.account_id, unsigned.identity_key, unsigned.encryption_key, created_at, sig
        )

    def encode(self) -> bytes:
        return (
            prefix(labels.TYPE_KEY_BUNDLE)
            + self.account_id
            + self.identity_seed
            + self.encryption_secret
        )

    @classmethod
    def parse(cls, data: bytes) -> AccountKeys:
        try:
            r = Reader(data)
            r.prefix(labels.TYPE_KEY_BUNDLE)
            keys = cls(r.take(16), r.take(32), r.take(32))
            r.end()
        except ProtocolError as exc:
            raise ProtocolError("malformed", "inner key bundle") from exc
        return keys

    def check_matches(self, statement: KeyStatement) -> None:
        if (self.identity_public, self.encryption_public) != (
            statement.identity_key,
            statement.encryption_key,
        ):
            raise ProtocolError("bundle-key-mismatch")


@dataclass(frozen=True)
class PasswordKeys:
    auth_key: bytes
    kek: bytes


def check_kdf_params(iterations: int, salt: bytes) -> None:
    """Refuse a downgrade by the server (§3.3)."""
    if iterations < PBKDF2_ITERATIONS or len(salt) != SALT_LEN:
        raise ProtocolError("weak-kdf-params")


def derive_password_keys(
    password: str, salt: bytes, iterations: int = PBKDF2_ITERATIONS
) -> PasswordKeys:
    check_kdf_params(iterations, salt)
    secret = unicodedata.normalize("NFC", password).encode("utf-8")
    master = hashlib.pbkdf2_hmac("sha256", secret, salt, iterations, 32)
    return PasswordKeys(hkdf32(master, labels.AUTH_KEY), hkdf32(master, labels.BUNDLE_KEK))


def seal_bundle(keys: AccountKeys, kek: bytes, purpose: int, rng: Rng = system_rng) -> bytes:
    header = prefix(labels.TYPE_SEALED_BUNDLE) + keys.account_id + u8(purpose) + rng(12)
    ct = aes_gcm_encrypt(kek, header[21:33], keys.encode(), header)
    return header + u32(len(ct)) + ct


def open_bundle(blob: bytes, kek: bytes, purpose: int) -> AccountKeys:
    r = Reader(blob)
    r.prefix(labels.TYPE_SEALED_BUNDLE)
    account_id, got_purpose, nonce = r.take(16), r.u8(), r.take(12)
    ct_len = r.u32()
    if ct_len != SEALED_CT_LEN:
        raise ProtocolError("malformed", "sealed bundle length")
    ct = r.take(ct_len)
    r.end()
    if got_purpose != purpose:
        raise ProtocolError("wrong-purpose")
    plain = aes_gcm_decrypt(kek, nonce, ct, blob[:33], "bundle-decrypt-failed")
    keys = AccountKeys.parse(plain)
    if keys.account_id != account_id:
        raise ProtocolError("account-mismatch")
    return keys
