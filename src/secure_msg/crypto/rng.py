"""Injectable randomness: production uses the OS; vectors use a seeded counter-mode stream."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

Rng = Callable[[int], bytes]


def system_rng(n: int) -> bytes:
    return os.urandom(n)


class SeededRng:
    """SHA-256 in counter mode over a seed. For test vectors only: never for real keys."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0
        self._buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._buffer += block
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out
