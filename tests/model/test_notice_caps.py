"""The manual-notice cap's arithmetic: sliding windows, and the wait until one more fits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from secure_msg.model.notice_caps import DAY_MS, HOUR_MS, CapReached, ManualNoticeCap

NOW = 1_800_000_000_000
CAP = ManualNoticeCap(per_hour=3, per_day=5)


def test_under_the_limits_nothing_waits() -> None:
    assert CAP.check([], NOW) is None
    assert CAP.check([NOW - 2, NOW - 1], NOW) is None
    # Three in the hour before, all of them out of it: the hour has room again.
    assert CAP.check([NOW - HOUR_MS - 3, NOW - HOUR_MS - 2, NOW - HOUR_MS], NOW) is None


def test_a_full_hour_waits_for_its_oldest_to_leave() -> None:
    sent = [NOW - 50 * 60_000, NOW - 20 * 60_000, NOW - 1]
    assert CAP.check(sent, NOW) == CapReached(3, "hour", 10 * 60_000)
    assert CAP.check(sent, NOW + 10 * 60_000) is None


def test_a_full_day_outlasts_the_hour() -> None:
    sent = [NOW - 20 * HOUR_MS, NOW - 19 * HOUR_MS, NOW - 5 * HOUR_MS, NOW - 2 * HOUR_MS,
            NOW - 1]
    reached = CAP.check(sent, NOW)
    assert reached == CapReached(5, "day", 4 * HOUR_MS)
    assert reached.retry_after_seconds == 4 * 3600


def test_retry_after_rounds_up_to_a_whole_second() -> None:
    assert CapReached(3, "hour", 1).retry_after_seconds == 1
    assert CapReached(3, "hour", 1000).retry_after_seconds == 1


@given(st.lists(st.integers(min_value=NOW - 2 * DAY_MS, max_value=NOW), max_size=20))
def test_the_wait_is_exactly_when_one_more_fits(sent: list[int]) -> None:
    """Refused now means allowed after the wait and still refused a millisecond before it;
    allowed now means each window holds fewer than its limit."""
    reached = CAP.check(sent, NOW)
    if reached is None:
        assert sum(t > NOW - HOUR_MS for t in sent) < 3
        assert sum(t > NOW - DAY_MS for t in sent) < 5
        return
    assert reached.wait_ms > 0
    assert CAP.check(sent, NOW + reached.wait_ms) is None
    assert CAP.check(sent, NOW + reached.wait_ms - 1) is not None
