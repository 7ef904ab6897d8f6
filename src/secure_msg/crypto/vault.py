"""At-rest encryption of server-side PII (names, phone numbers, e-mail addresses). Sans-IO.

Not part of the end-to-end protocol: this protects what the server must be able to read (to send
an SMS, say) against someone who gets the database file or a backup without keys/.

Sealed blob, version 1:

    0x01 | nonce (12 bytes, random) | AES-256-GCM ciphertext || tag (16 bytes)
    AAD = "secure-msg/vault/v1/aad" 0x00 purpose

`purpose` names the column ("invitations.phone"), so a blob copied into another column fails to
open. Look-ups use a blind index: HMAC-SHA256(blind-index key, label 0x00 purpose 0x00 value) over
the *normalised* value (E.164 phone, lower-cased e-mail; the rules are in secure_msg/contacts.py),
with its own key so that leaking one key does not leak the other's protection.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secure_msg.contacts import normalise_email, normalise_phone
from secure_msg.errors import VaultError

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_AAD_LABEL = b"secure-msg/vault/v1/aad"
_INDEX_LABEL = b"secure-msg/vault/v1/blind-index"
_PURPOSE = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")


def _check_purpose(purpose: str) -> bytes:
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"vault purpose must look like 'table.column', got {purpose!r}")
    return purpose.encode("ascii")


class Vault:
    """Seal/open PII under the at-rest key; compute blind indexes under the blind-index key."""

    def __init__(
        self, at_rest_key: bytes, blind_index_key: bytes, rng: Callable[[int], bytes]
    ) -> None:
        if len(at_rest_key) != KEY_BYTES or len(blind_index_key) != KEY_BYTES:
            raise ValueError("vault keys must be 32 bytes each")
        if at_rest_key == blind_index_key:
            raise ValueError("the at-rest and blind-index keys must differ")
        self._aead = AESGCM(at_rest_key)
        self._index_key = blind_index_key
        self._rng = rng

    def __repr__(self) -> str:
        return "Vault(<keys hidden>)"

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        nonce = self._rng(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise ValueError("random source returned the wrong number of bytes")
        aad = _AAD_LABEL + b"\x00" + _check_purpose(purpose)
        return bytes([VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, purpose: str, blob: bytes) -> bytes:
        aad = _AAD_LABEL + b"\x00" + _check_purpose(purpose)
        if len(blob) < 1 + NONCE_BYTES + TAG_BYTES:
            raise VaultError("sealed value is truncated")
        if blob[0] != VERSION:
            raise VaultError(f"sealed value has unknown version {blob[0]}")
        nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise VaultError("sealed value failed authentication") from None

    def seal_text(self, purpose: str, text: str) -> bytes:
        return self.seal(purpose, text.encode("utf-8"))

    def open_text(self, purpose: str, blob: bytes) -> str:
        return self.open(purpose, blob).decode("utf-8")

    def blind_index(self, purpose: str, normalised_value: str) -> bytes:
        """32-byte keyed index of an already-normalised value; equal inputs give equal outputs."""
        message = (
            _INDEX_LABEL
            + b"\x00"
            + _check_purpose(purpose)
            + b"\x00"
            + normalised_value.encode("utf-8")
        )
        return hmac.new(self._index_key, message, hashlib.sha256).digest()

    def phone_index(self, purpose: str, raw_phone: str) -> bytes:
        return self.blind_index(purpose, normalise_phone(raw_phone))

    def email_index(self, purpose: str, raw_email: str) -> bytes:
        return self.blind_index(purpose, normalise_email(raw_email))

