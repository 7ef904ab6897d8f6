"""Server-side verifier of login auth keys: Argon2id through libsodium (pynacl).

Parameters are above OWASP's minimum (19 MiB, t=2); the measured cost is in docs/performance.md.
These calls block for tens of milliseconds: run them in an executor from async code.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash


@dataclass(frozen=True)
class Argon2Params:
    ops: int = 3
    mem_bytes: int = 64 * 1024 * 1024


DEFAULT_PARAMS = Argon2Params()
MIN_PARAMS = Argon2Params(ops=2, mem_bytes=19 * 1024 * 1024)


def hash_secret(secret: bytes, params: Argon2Params = DEFAULT_PARAMS) -> bytes:
    if params.ops < MIN_PARAMS.ops or params.mem_bytes < MIN_PARAMS.mem_bytes:
        raise ValueError("Argon2id parameters below OWASP's minimum")
    out: bytes = nacl.pwhash.argon2id.str(secret, opslimit=params.ops, memlimit=params.mem_bytes)
    return out


def check_secret(stored: bytes, secret: bytes) -> bool:
    try:
        return bool(nacl.pwhash.verify(stored, secret))
    except nacl.exceptions.InvalidkeyError:
        return False
