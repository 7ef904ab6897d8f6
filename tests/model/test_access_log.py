"""How a page read becomes audit details: seq ranges, split to stay under the detail cap."""

from __future__ import annotations

import pytest

from secure_msg.model.access_log import MEMBER_VISIBLE, Refusal, fetch_details, parse_ranges
from secure_msg.model.audit import MAX_DETAIL_BYTES, encode_detail


def test_a_page_is_one_detail_with_its_gaps() -> None:
    assert fetch_details([1, 2, 3, 5, 8, 9]) == [
        {"from": 1, "to": 9, "count": 6, "ranges": "1-3,5,8-9"}]
    assert fetch_details([7]) == [{"from": 7, "to": 7, "count": 1, "ranges": "7"}]
    assert fetch_details([]) == []
    assert fetch_details([52, 50, 51]) == [{"from": 50, "to": 52, "count": 3, "ranges": "50-52"}]
    assert fetch_details([4, 4, 5]) == [{"from": 4, "to": 5, "count": 2, "ranges": "4-5"}]


def test_the_largest_scattered_page_is_split_under_the_cap() -> None:
    """200 entries none adjacent, with 12-digit seqs: one detail would be ≈ 2.6 kB."""
    seqs = [10**11 + 2 * n for n in range(200)]
    details = fetch_details(seqs)
    assert len(details) > 1
    assert all(len(encode_detail(d).encode()) <= MAX_DETAIL_BYTES for d in details)
    assert [s for d in details for s in parse_ranges(str(d["ranges"]))] == seqs
    assert sum(int(d["count"]) for d in details) == 200


@pytest.mark.parametrize("text", ["", "a", "3-1", "0", "1-", ",1", "1,,2"])
def test_a_malformed_ranges_string_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_ranges(text)


def test_refusals_are_never_member_visible() -> None:
    assert not MEMBER_VISIBLE & set(Refusal)
