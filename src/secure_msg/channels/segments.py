"""SMS encoding and segment counting (GSM 03.38 / 3GPP TS 23.038).

A text is sent as GSM-7 when every character is in the basic table or the
extension table (extension characters cost two septets: ESC + code);
otherwise the whole message falls back to UCS-2 (UTF-16 code units, so a
character outside the BMP — most emoji — costs two units).

Note: € is in the GSM-7 *extension* table, so it does not force UCS-2; it
only costs two septets. š, ž, curly quotes, en/em dashes and emoji do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Basic table minus ESC (0x1B), which only introduces extension characters.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_SEGMENT = 160
GSM7_MULTI_SEGMENT = 153  # 7 septets go to the concatenation header
UCS2_SINGLE_SEGMENT = 70
UCS2_MULTI_SEGMENT = 67


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SegmentInfo:
    """How a text travels: its encoding, its size in units and its segment count."""

    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


class SegmentCapExceededError(ValueError):
    """The text needs more SMS segments than allowed."""

    def __init__(self, info: SegmentInfo, cap: int) -> None:
        super().__init__(f"{info.segments} {info.encoding} segments exceed the cap of {cap}")
        self.info = info
        self.cap = cap


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 basic or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def non_gsm7_characters(text: str) -> list[str]:
    """The distinct characters that force `text` into UCS-2, in order of appearance."""
    seen: list[str] = []
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION and ch not in seen:
            seen.append(ch)
    return seen


def _unit_sizes(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(sizes: list[int], per_segment: int) -> int:
    """Greedy packing that never splits an escape pair or a surrogate pair."""
    segments, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return segments


def analyze(text: str) -> SegmentInfo:
    """Encoding, size and segment count of `text` as a phone network would send it."""
    encoding = Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    single, multi = (
        (GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT)
        if encoding is Encoding.GSM7
        else (UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT)
    )
    segments = 1 if units <= single else _pack(sizes, multi)
    return SegmentInfo(encoding=encoding, units=units, segments=segments)


def count_segments(text: str) -> int:
    """Number of SMS segments `text` needs (an empty text still takes one)."""
    return analyze(text).segments


def check_segment_cap(text: str, cap: int) -> SegmentInfo:
    """Return the segment info of `text`, or raise SegmentCapExceededError above `cap`."""
    if cap < 1:
        raise ValueError("segment cap must be at least 1")
    info = analyze(text)
    if info.segments > cap:
        raise SegmentCapExceededError(info, cap)
    return info
