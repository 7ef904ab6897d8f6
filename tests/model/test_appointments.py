"""Pure rules of appointments and notices: lifecycle, cancel codes, quiet hours, months."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from secure_msg.model.appointments import (
    AppointmentStatus,
    QuietHours,
    can_move,
    is_late,
    minus_months,
    new_cancel_code,
)

HKI = ZoneInfo("Europe/Helsinki")


def _ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=HKI).timestamp() * 1000)


def test_only_scheduled_appointments_change_state() -> None:
    """Scheduled moves to any final state; final states never move again."""
    s = AppointmentStatus
    assert all(can_move(s.SCHEDULED, t) for t in s if t is not s.SCHEDULED)
    assert not any(can_move(f, t) for f in s if f is not s.SCHEDULED for t in s)


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
