"""Pure rules of appointments and notices: lifecycle, cancel codes, quiet hours, months."""

from __future__ import annotations

from datetime import date, datetime
from itertools import product
from zoneinfo import ZoneInfo

import pytest

from secure_msg.errors import InvalidTransition
from secure_msg.model.appointments import (
    TRANSITIONS,
    AppointmentStatus,
    QuietHours,
    can_move,
    check_transition,
    is_late,
    minus_months,
    new_cancel_code,
)

HKI = ZoneInfo("Europe/Helsinki")


def _ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=HKI).timestamp() * 1000)


S = AppointmentStatus
# DESIGN §3 written out independently of the table: scheduled becomes any final status once.
ALLOWED = {(S.SCHEDULED, S.ATTENDED), (S.SCHEDULED, S.NO_SHOW),
           (S.SCHEDULED, S.CANCELLED_BY_FAMILY), (S.SCHEDULED, S.CANCELLED_BY_THERAPIST)}


def test_the_table_names_every_status() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("old", "new"), list(product(S, S)), ids=lambda s: str(s))
def test_every_pair_against_the_table(old: AppointmentStatus, new: AppointmentStatus) -> None:
    """Scheduled moves to any final state; nothing else moves, not even to itself."""
    allowed = (old, new) in ALLOWED
    assert can_move(old, new) is allowed
    if allowed:
        check_transition(old, new)
    else:
        with pytest.raises(InvalidTransition) as raised:
            check_transition(old, new)
        assert raised.value.status == 409


def test_a_refused_move_says_what_the_api_always_said() -> None:
    """A final appointment cancelled or marked again: the 409 detail clients have seen."""
    with pytest.raises(InvalidTransition, match=r"^The appointment is not scheduled\.$"):
        check_transition(S.ATTENDED, S.CANCELLED_BY_FAMILY)
    with pytest.raises(InvalidTransition, match="never becomes scheduled"):
        check_transition(S.CANCELLED_BY_THERAPIST, S.SCHEDULED)


def test_cancel_codes_are_four_digits_from_the_random_source() -> None:
    """Codes are 4 ASCII digits, deterministic for a given random source."""
    code = new_cancel_code(lambda n: b"\x00\x00\x04\xd2"[:n])
    assert code == "1234"


def test_quiet_hours_overnight_move_a_notice_to_their_end() -> None:
    """21:00-08:00: 07:30 waits until 08:00, 22:00 until the next morning, 12:00 goes now."""
    quiet = QuietHours.parse("Europe/Helsinki", "21:00", "08:00")
    assert quiet.next_allowed(_ms(2026, 3, 10, 7, 30)) == _ms(2026, 3, 10, 8, 0)
    assert quiet.next_allowed(_ms(2026, 3, 10, 22, 0)) == _ms(2026, 3, 11, 8, 0)
    assert quiet.next_allowed(_ms(2026, 3, 10, 12, 0)) == _ms(2026, 3, 10, 12, 0)


def test_months_back_clamp_to_the_month_end_and_late_window() -> None:
    """Two months before 30 April is 28/29 February; inside 24 h is late."""
    assert minus_months(date(2027, 4, 30), 2) == date(2027, 2, 28)
    assert minus_months(date(2026, 1, 15), 2) == date(2025, 11, 15)
    assert is_late(0, 23 * 3_600_000, 24)
    assert not is_late(0, 25 * 3_600_000, 24)
