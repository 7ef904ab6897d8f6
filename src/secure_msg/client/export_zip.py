"""The export archive's zip container (docs/export.md §2): stored (no compression), one
canonical byte layout, so that the browser's writer (static/app/zip.mjs) and this one write the
same bytes for the same files, and a verifier can rebuild an archive from its members and
compare: a flipped byte in a header, a time stamp or the central directory is then found too,
not only one in a member's data.

No zip64: an archive stays under 4 GiB and 65 535 members (checked when writing).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_LOCAL_SIG, _CENTRAL_SIG, _END_SIG = 0x04034B50, 0x02014B50, 0x06054B50
VERSION = 20  # 2.0: stored members, no zip64
FLAGS = 0x0800  # names are UTF-8
DOS_TIME, DOS_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00: no clock in the bytes
LIMIT = 0xFFFFFFFF


class ZipError(ValueError):
    """The bytes are not a stored zip this module reads."""


def write(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The canonical stored zip of (name, data) in the order given."""
    if len(members) > 0xFFFF:
        raise ZipError("too many members")
    out, central = bytearray(), bytearray()
    for name, data in members:
        raw = name.encode("utf-8")
        crc = zlib.crc32(data)
        offset = len(out)
        out += _LOCAL.pack(_LOCAL_SIG, VERSION, FLAGS, 0, DOS_TIME, DOS_DATE, crc, len(data),
                           len(data), len(raw), 0) + raw + data
        central += _CENTRAL.pack(_CENTRAL_SIG, VERSION, VERSION, FLAGS, 0, DOS_TIME, DOS_DATE,
                                 crc, len(data), len(data), len(raw), 0, 0, 0, 0, 0,
                                 offset) + raw
    start = len(out)
    if start + len(central) > LIMIT:
        raise ZipError("archive larger than 4 GiB")
    out += central + _END.pack(_END_SIG, 0, 0, len(members), len(members), len(central),
                               start, 0)
    return bytes(out)


def read(data: bytes) -> list[tuple[str, bytes]]:
    """(name, data) of each member, in central-directory order, reading each member's bytes from
    where its local header says (CRCs are not checked here: the manifest's hashes are what
    counts, and `write(read(x)) == x` shows any other change). ZipError if it cannot be read."""
    end = data.rfind(struct.pack("<I", _END_SIG))
    if end < 0 or len(data) - end < _END.size:
        raise ZipError("no end of central directory")
    _, disk, cd_disk, n_disk, n, cd_size, cd_start, _ = _END.unpack_from(data, end)
    if disk or cd_disk or n_disk != n or cd_start + cd_size > end:
        raise ZipError("malformed end of central directory")
    members: list[tuple[str, bytes]] = []
    pos = cd_start
    for _ in range(n):
        if pos + _CENTRAL.size > end:
            raise ZipError("truncated central directory")
        f = _CENTRAL.unpack_from(data, pos)
        if f[0] != _CENTRAL_SIG:
            raise ZipError("bad central directory entry")
        method, size, offset = f[4], f[9], f[16]
        name_len, extra_len, comment_len = f[10], f[11], f[12]
        if method != 0:
            raise ZipError("a member is compressed")
        name = _name(data[pos + _CENTRAL.size: pos + _CENTRAL.size + name_len])
        pos += _CENTRAL.size + name_len + extra_len + comment_len
        if offset + _LOCAL.size > cd_start:
            raise ZipError(f"{name}: local header out of range")
        local = _LOCAL.unpack_from(data, offset)
        if local[0] != _LOCAL_SIG:
            raise ZipError(f"{name}: bad local header")
        start = offset + _LOCAL.size + local[9] + local[10]
        if start + size > cd_start:
            raise ZipError(f"{name}: data out of range")
        members.append((name, data[start:start + size]))
    return members


def _name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ZipError("a member name is not UTF-8") from exc
