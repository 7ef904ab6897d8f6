"""GSM-7 / UCS-2 detection and SMS segment counting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_msg.channels.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Encoding,
    SegmentCapExceededError,
    analyze,
    check_segment_cap,
    count_segments,
    is_gsm7,
    non_gsm7_characters,
)


@pytest.mark.parametrize("text", ["äöåÄÖÅ", "Hei! Aika 13.5. klo 14.30", "@£$¥ß", "[]{}~^|\\"])
def test_gsm7_texts(text: str) -> None:
    """Finnish/Swedish letters and the extension characters stay GSM-7."""
    assert is_gsm7(text)
    assert analyze(text).encoding is Encoding.GSM7


@pytest.mark.parametrize(
    "char", ["š", "ž", "Š", "Ž", "\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014", "😀"]
)
def test_ucs2_forcing_characters(char: str) -> None:
    """š, ž, curly quotes, en/em dashes and emoji force UCS-2 and are named as offenders."""
    text = f"Hei {char} moi"
    assert analyze(text).encoding is Encoding.UCS2
    assert non_gsm7_characters(text) == [char]


def test_euro_is_gsm7_extension_costing_two_septets() -> None:
    """€ is in the GSM 03.38 extension table: GSM-7, two septets (not UCS-2)."""
    info = analyze("5 €")
    assert info.encoding is Encoding.GSM7
    assert info.units == 4


@pytest.mark.parametrize(
    ("length", "segments"), [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)]
)
def test_gsm7_segment_boundaries(length: int, segments: int) -> None:
    """GSM-7: 160 septets fit in one segment, beyond that 153 per segment."""
    assert count_segments("a" * length) == segments


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segment_boundaries(length: int, segments: int) -> None:
    """UCS-2: 70 code units in one segment, beyond that 67 per segment."""
    assert count_segments("š" * length) == segments


def test_extension_characters_count_double() -> None:
    """80 € signs are 160 septets (one segment); 81 need two."""
    assert analyze("€" * 80).units == 160
    assert count_segments("€" * 80) == 1
    assert count_segments("€" * 81) == 2


def test_escape_pair_is_not_split_across_segments() -> None:
    """An extension character straddling a 153-septet boundary moves to the next segment."""
    # 152 septets + '€' (2) + 152 septets = 306 septets, but € cannot be split → 3 segments.
    assert count_segments("a" * 152 + "€" + "a" * 152) == 3


def test_surrogate_pairs_count_two_units() -> None:
    """An emoji outside the BMP is two UTF-16 units: 35 of them fill one segment."""
    assert analyze("😀" * 35).units == 70
    assert count_segments("😀" * 35) == 1
    assert count_segments("😀" * 36) == 2


def test_surrogate_pair_is_not_split() -> None:
    """66 units + an emoji (2) + 66 units needs three 67-unit segments, not two."""
    assert count_segments("š" * 66 + "😀" + "š" * 66) == 3


def test_cap_check() -> None:
    """The cap check passes at the cap and raises above it, naming the numbers."""
    assert check_segment_cap("a" * 306, 2).segments == 2
    with pytest.raises(SegmentCapExceededError) as exc:
        check_segment_cap("a" * 307, 2)
    assert exc.value.info.segments == 3
    assert exc.value.cap == 2
    with pytest.raises(ValueError, match="at least 1"):
        check_segment_cap("a", 0)


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=800))
def test_gsm7_segments_never_below_the_simple_bound(text: str) -> None:
    """For any GSM-7 text, segments ≥ ceil(septets / 153) and one segment iff ≤ 160 septets."""
    info = analyze(text)
    assert info.encoding is Encoding.GSM7
    if info.units <= 160:
        assert info.segments == 1
    else:
        assert info.segments >= -(-info.units // 153)
        assert info.segments <= -(-info.units // 152)
