"""Times as text: ms_to_iso never raises, whatever integer the database holds."""

from __future__ import annotations

import pytest

from secure_msg.clock import MAX_ISO_MS, MIN_ISO_MS, ms_to_iso

LAST = "9999-12-31T23:59:59.999+00:00"
FIRST = "0001-01-01T00:00:00.000+00:00"


@pytest.mark.parametrize(("ms", "text"), [
    (MAX_ISO_MS, LAST),
    (MAX_ISO_MS + 1, LAST),  # 10000-01-01: beyond what `date` can hold
    (2**63 - 1, LAST),  # the largest SQLite INTEGER
    (2**64 - 1, LAST),  # the largest u64 a header can carry
    (MIN_ISO_MS, FIRST),
    (MIN_ISO_MS - 1, FIRST),
    (-(2**63), FIRST),
    (0, "1970-01-01T00:00:00.000+00:00"),
    (-1, "1969-12-31T23:59:59.999+00:00"),
])
def test_ms_to_iso_clamps_to_years_1_to_9999_at_int64_extremes(ms: int, text: str) -> None:
    """The ends of the range are exact, anything past them is written as the nearest end."""
    assert ms_to_iso(ms) == text
