"""Protocol costs on this machine: a 4 KiB entry to 5 recipients, and the login KDFs.

Reported as ops/s and as multiples of one raw Ed25519 verify measured in the same run, so the
figures compare across machines. Run: `make bench` or `.venv/bin/python bench/crypto.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import nacl.bindings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from secure_msg.crypto import envelope, keys, verifier

BOOKLET = b"\xb0" * 16


def per_op(fn: Callable[[], object], min_seconds: float = 1.0) -> float:
    """Median of five timed batches, seconds per call."""
    fn()
    n, elapsed = 1, 0.0
    while elapsed < min_seconds / 5:
        n *= 2
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n)
    return sorted(samples)[2]


def main() -> None:
    members = [keys.AccountKeys.generate(bytes([i]) * 16) for i in range(1, 6)]
    author = members[0]
    recipients = [(m.account_id, m.encryption_public) for m in members]
    plaintext = os.urandom(4096)

    def seal() -> bytes:
        return envelope.seal_entry(
            author, booklet_id=BOOKLET, entry_id=os.urandom(16), kind=2, sequence=1,
            prev_hash=envelope.ZERO_HASH, created_at=1, plaintext=plaintext,
            recipients=recipients,
        )

    sealed = seal()
    expected = dict(recipients)
    author_ik = author.identity_public  # a property that derives the key: the server reads it
    sk = Ed25519PrivateKey.generate()
    pk, sig = sk.public_key(), sk.sign(b"m" * 64)

    base = per_op(lambda: pk.verify(sig, b"m" * 64))
    raw_pk = pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rows = {
        "raw Ed25519 verify (baseline)": base,
        "raw Ed25519 verify, libsodium (the protocol's verifier)": per_op(
            lambda: nacl.bindings.crypto_sign_open(sig + b"m" * 64, raw_pk)),
        "seal + sign (4 KiB, 5 recipients)": per_op(seal),
        "server verify": per_op(lambda: envelope.verify_entry(
            sealed, author_identity_key=author_ik, booklet_id=BOOKLET,
            author_id=author.account_id, recipients=expected)),
        "recipient open": per_op(lambda: envelope.open_entry(
            sealed, author_identity_key=author_ik, author_id=author.account_id,
            booklet_id=BOOKLET, me=members[3])),
    }
    stored = verifier.hash_secret(b"a" * 32)
    slow = {
        "PBKDF2-SHA256 600 000 (client, once per login)": per_op(
            lambda: keys.derive_password_keys("pw", b"s" * 16), 3.0),
        "Argon2id verify, t=3 m=64 MiB (server, once per login)": per_op(
            lambda: verifier.check_secret(stored, b"a" * 32), 3.0),
    }
    print(f"{'operation':<58} {'ops/s':>10} {'ms/op':>9} {'x Ed25519 verify':>17}")
    for name, t in {**rows, **slow}.items():
        print(f"{name:<58} {1 / t:>10.0f} {t * 1e3:>9.3f} {t / base:>17.1f}")


if __name__ == "__main__":
    main()
