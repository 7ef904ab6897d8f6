"""Fixed binary layouts: a writer, a bounds-checked reader, and the common 4-byte prefix."""

from __future__ import annotations

import struct

from .errors import ProtocolError
from .labels import SUITE, VERSION

PREFIX_LEN = 4


def prefix(object_type: int) -> bytes:
    return struct.pack(">BHB", VERSION, SUITE, object_type)


def u8(v: int) -> bytes:
    return struct.pack(">B", v)


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def u64(v: int) -> bytes:
    return struct.pack(">Q", v)


def fixed(value: bytes, length: int, what: str) -> bytes:
    """Check a caller-supplied fixed-length field before it is written."""
    if len(value) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(value)}")
    return value


class Reader:
    """Reads a fixed layout: a short read is `truncated`, a leftover byte `trailing-data`."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0

    @property
    def position(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.remaining() < n:
            raise ProtocolError("truncated")
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return out

    def u8(self) -> int:
        return int(self.take(1)[0])

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def prefix(self, expected_type: int) -> None:
        """Version, suite, then type, each with its own error (docs/protocol.md §2)."""
        if self.remaining() < PREFIX_LEN:
            raise ProtocolError("truncated")
        if self.u8() != VERSION:
            raise ProtocolError("unsupported-version")
        if self.u16() != SUITE:
            raise ProtocolError("unsupported-suite")
        if self.u8() != expected_type:
            raise ProtocolError("wrong-type")

    def end(self) -> None:
        if self.remaining():
            raise ProtocolError("trailing-data")
