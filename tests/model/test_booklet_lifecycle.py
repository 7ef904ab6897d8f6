"""The booklet lifecycle and the retention rule as values: only the table's moves, writes only
while open, and dates that never shorten the members' time to export."""

from __future__ import annotations

import pytest

from secure_msg.errors import BookletClosed
from secure_msg.model.booklet_lifecycle import (
    DAY_MS,
    TRANSITIONS,
    BookletStatus,
    RetentionRule,
    can_move,
    check_writable,
)
from secure_msg.model.lifecycle import edges

B = BookletStatus
RULE = RetentionRule(closed_booklet_days=365, export_reminder_days=30)


def test_the_lifecycle_only_goes_forward_and_never_back_to_open() -> None:
    assert edges(TRANSITIONS) == {(B.OPEN, B.CLOSED), (B.CLOSED, B.PURGE_SCHEDULED),
                                  (B.PURGE_SCHEDULED, B.PURGED)}
    assert not can_move(B.CLOSED, B.PURGED)  # never purged without the reminder
    assert not any(can_move(s, B.OPEN) for s in B)


@pytest.mark.parametrize("status", [B.CLOSED, B.PURGE_SCHEDULED, B.PURGED])
def test_only_an_open_booklet_takes_writes(status: BookletStatus) -> None:
    check_writable(B.OPEN)
    with pytest.raises(BookletClosed) as refused:
        check_writable(status)
    assert (refused.value.status, refused.value.code) == (409, "booklet-closed")


def test_retention_dates() -> None:
    closed = 1_000 * DAY_MS
    purge = RULE.purge_after(closed)
    assert purge == closed + 365 * DAY_MS
    assert RULE.reminder_due(purge) == purge - 30 * DAY_MS
    on_time = RULE.reminder_due(purge)
    assert RULE.purge_after_reminder(purge, on_time) == purge
    late = purge + 10 * DAY_MS  # the service was down: the members still get 30 days
    assert RULE.purge_after_reminder(purge, late) == late + 30 * DAY_MS
