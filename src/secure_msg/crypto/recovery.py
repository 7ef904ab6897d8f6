"""The printed recovery key: 160 random bits in Crockford base32 and a check value (§3.4)."""

from __future__ import annotations

from dataclasses import dataclass

from . import labels
from .errors import ProtocolError
from .primitives import hkdf32
from .rng import Rng, system_rng

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_LEN = 20
_TYPO_MAP = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _base32(value: int, chars: int) -> str:
    return "".join(ALPHABET[(value >> (5 * (chars - 1 - i))) & 31] for i in range(chars))


# The largest prime below 2^20. A one-character substitution changes the value by d·32^k and
# swapping two neighbours by (a-b)·31·32^k; the prime divides neither, so both always show.
CHECK_PRIME = 1_048_573


def _checksum(secret: bytes) -> str:
    return _base32(int.from_bytes(secret, "big") % CHECK_PRIME, 4)


def format_recovery_key(secret: bytes) -> str:
    if len(secret) != SECRET_LEN:
        raise ValueError("recovery secret must be 20 bytes")
    text = _base32(int.from_bytes(secret, "big"), 32) + _checksum(secret)
    return "-".join(text[i : i + 4] for i in range(0, 36, 4))


def parse_recovery_key(text: str) -> bytes:
    cleaned = "".join(text.upper().split()).replace("-", "").translate(_TYPO_MAP)
    if len(cleaned) != 36 or any(c not in ALPHABET for c in cleaned):
        raise ProtocolError("recovery-key-malformed")
    value = 0
    for c in cleaned[:32]:
        value = (value << 5) | ALPHABET.index(c)
    secret = value.to_bytes(SECRET_LEN, "big")
    if _checksum(secret) != cleaned[32:]:
        raise ProtocolError("recovery-key-checksum")
    return secret


@dataclass(frozen=True)
class RecoveryKeys:
    auth_key: bytes
    kek: bytes


def generate_recovery_secret(rng: Rng = system_rng) -> bytes:
    return rng(SECRET_LEN)


def derive_recovery_keys(secret: bytes) -> RecoveryKeys:
    return RecoveryKeys(hkdf32(secret, labels.RECOVERY_AUTH), hkdf32(secret, labels.RECOVERY_KEK))
