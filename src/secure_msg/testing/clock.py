"""A test-only clock for subprocess servers: real time plus an offset read from a file.

`secure-msg serve` uses it only when the environment names the file
(`SECURE_MSG_TEST_CLOCK_FILE`); no config key turns it on, so a production config cannot.
Tests write the offset in milliseconds to move the server's time (reminders, quiet hours).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV_VAR = "SECURE_MSG_TEST_CLOCK_FILE"


class OffsetFileClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1
        self._offset_ms = 0

    def _offset(self) -> int:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0
        if mtime != self._mtime:
            text = self.path.read_text(encoding="ascii").strip()
            self._offset_ms = int(text or "0")
            self._mtime = mtime
        return self._offset_ms

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self._offset()

    def monotonic(self) -> float:
        return time.monotonic()


def from_environment() -> OffsetFileClock | None:
    path = os.environ.get(ENV_VAR)
    return OffsetFileClock(Path(path)) if path else None


def set_offset(path: Path, offset_ms: int) -> None:
    """Write a new offset atomically (the server re-reads it on the next tick)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(offset_ms), encoding="ascii")
    os.replace(tmp, path)
