"""The notice lifecycle table, pinned pair by pair to what storage/notices.py's UPDATEs allowed
before the table existed, and the provider callback rule checked against the rank-only rule it
replaced."""

from __future__ import annotations

from itertools import product

import pytest

from secure_msg.model.lifecycle import edges
from secure_msg.model.notices import (
    CALLBACK_RANK,
    CALLBACK_STATUS,
    CLAIMABLE,
    TRANSITIONS,
    NoticeStatus,
    callback_target,
)

N = NoticeStatus
# Written out from the old SQL guards, independently of the table.
ALLOWED = {
    (N.QUEUED, N.SENDING), (N.SENDING, N.SENDING),  # claim; claim again after the lease ran out
    (N.SENDING, N.SENT),  # the provider accepted it
    (N.SENDING, N.QUEUED),  # retry later
    (N.QUEUED, N.FAILED), (N.SENDING, N.FAILED),  # the worker gives up
    (N.QUEUED, N.SKIPPED), (N.SENDING, N.SKIPPED),
    (N.SENT, N.DELIVERED), (N.SENT, N.UNDELIVERED),  # status callbacks
    # Issue 15: an attempt that may have created the message leaves it ambiguous; a claim
    # reconciles before any resend and adopts what it finds; too late to be useful, it expires.
    (N.SENDING, N.AMBIGUOUS), (N.AMBIGUOUS, N.SENDING),
    (N.SENDING, N.RECONCILED), (N.SENDING, N.DUPLICATE_SUSPECTED), (N.SENDING, N.EXPIRED),
    (N.RECONCILED, N.DELIVERED), (N.RECONCILED, N.UNDELIVERED),  # callbacks and polls
}
# A provider sid is written only with sending → sent, reconciled or duplicate_suspected, so only
# these can get a callback.
WITH_SID = (N.SENT, N.RECONCILED, N.DUPLICATE_SUSPECTED, N.DELIVERED, N.UNDELIVERED)


def test_the_table_names_every_status() -> None:
    assert set(TRANSITIONS) == set(N)
    assert set(CLAIMABLE) == {N.QUEUED, N.SENDING, N.AMBIGUOUS}


@pytest.mark.parametrize(("old", "new"), list(product(N, N)), ids=lambda s: str(s))
def test_every_pair_against_the_table(old: NoticeStatus, new: NoticeStatus) -> None:
    assert ((old, new) in edges(TRANSITIONS)) is ((old, new) in ALLOWED)


def _rank_rule(current: str, reported: str) -> str | None:
    """The callback rule before the table: forward by rank from any ranked status."""
    if reported not in CALLBACK_RANK or current not in CALLBACK_RANK:
        return None
    if CALLBACK_RANK[current] >= CALLBACK_RANK[reported]:
        return None
    return "undelivered" if reported == "failed" else reported


@pytest.mark.parametrize("current", list(N), ids=str)
def test_callbacks_move_only_along_the_table_and_forward(current: NoticeStatus) -> None:
    """For every status a notice with a sid can be in, exactly the old rule; for the rest (no
    sid, so no callback can find them) never a move the old rule would not have made."""
    assert set(CALLBACK_STATUS) == set(CALLBACK_RANK)
    # A reconciled notice was sent, its sid adopted: callbacks treat it exactly as `sent`.
    as_before = "sent" if current is N.RECONCILED else current
    for reported in [*CALLBACK_STATUS, "read", "canceled", ""]:
        target = callback_target(current, reported)
        if target is not None:
            assert (current, target) in edges(TRANSITIONS)
            assert _rank_rule(as_before, reported) == target
        if current in WITH_SID:
            assert _rank_rule(as_before, reported) == target, reported
