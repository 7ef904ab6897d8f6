"""Identity-key fingerprints, pairwise 60-digit safety numbers and the QR payload (§6)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from . import labels
from .encoding import Reader, fixed, prefix
from .errors import ProtocolError
from .primitives import sha256

ITERATIONS = 5200


def fingerprint(identity_key: bytes) -> str:
    digest = sha256(labels.FINGERPRINT, fixed(identity_key, 32, "identity key"))[:16].hex()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def _party_digits(account_id: bytes, identity_key: bytes) -> str:
    h = hashlib.sha512(labels.labelled(labels.SAFETY_NUMBER, identity_key, account_id)).digest()
    for _ in range(ITERATIONS - 1):
        h = hashlib.sha512(h + identity_key).digest()
    return "".join(f"{int.from_bytes(h[5 * i : 5 * i + 5], 'big') % 100_000:05d}" for i in range(6))


def safety_number(a: tuple[bytes, bytes], b: tuple[bytes, bytes]) -> str:
    """Both parties' (account id, identity key); the same 60 digits whichever side computes it."""
    first, second = sorted((_party_digits(*a), _party_digits(*b)))
    return first + second


def group_digits(number: str) -> str:
    return " ".join(number[i : i + 5] for i in range(0, len(number), 5))


def normalize_number(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@dataclass(frozen=True)
class QrPayload:
    shower_id: bytes
    shower_key: bytes
    scanner_id: bytes
    scanner_key: bytes

    def encode(self) -> bytes:
        return b"".join(
            (
                prefix(labels.TYPE_QR),
                fixed(self.shower_id, 16, "shower id"),
                fixed(self.shower_key, 32, "shower key"),
                fixed(self.scanner_id, 16, "scanner id"),
                fixed(self.scanner_key, 32, "scanner key"),
            )
        )

    @classmethod
    def parse(cls, data: bytes) -> QrPayload:
        r = Reader(data)
        r.prefix(labels.TYPE_QR)
        out = cls(r.take(16), r.take(32), r.take(16), r.take(32))
        r.end()
        return out

    def check(self, peer: tuple[bytes, bytes], me: tuple[bytes, bytes]) -> None:
        """Run by the scanner: the code must show the peer's pinned key and my own."""
        if (self.shower_id, self.shower_key) != peer or (self.scanner_id, self.scanner_key) != me:
            raise ProtocolError("qr-mismatch")
