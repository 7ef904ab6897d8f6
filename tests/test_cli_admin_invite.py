"""`secure-msg admin invite --phone`: the number is checked as it is typed, before anything is
written, so an operator learns at once that a landline cannot get the SMS notices."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from secure_msg.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def initialised(project: Path) -> Path:
    """A fresh checkout (tests/conftest.py's `project`) after `secure-msg init`."""
    assert main(["init"]) == 0
    return project


def _invitations(project: Path) -> int:
    database = project / "var" / "secure-msg.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM invitations").fetchone()[0])


def _invite(phone: str) -> int:
    return main(["admin", "invite", "--role", "therapist", "--name", "T", "--phone", phone])


@pytest.mark.parametrize(("phone", "says"), [
    ("+358 9 1234567", "not a mobile number"),      # a Helsinki landline
    ("+358 800 123456", "not a mobile number"),     # toll-free
    ("+358 75 1234567", "not a valid phone number"),  # no such range (the old rule took it)
])
def test_a_number_no_sms_reaches_is_refused(initialised: Path, phone: str, says: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _invite(phone) == 1
    out = capsys.readouterr().out
    assert says in out
    assert "+358 40 123 4567" in out
    assert "Traceback" not in out
    assert _invitations(initialised) == 0


def test_a_mobile_in_national_form_is_accepted(initialised: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert _invite("040 123 4567") == 0
    assert "/enroll/" in capsys.readouterr().out
    assert _invitations(initialised) == 1
