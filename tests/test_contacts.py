"""Phone numbers through libphonenumber: valid numbers only, one E.164 form per number (the
vault's blind indexes depend on it), mobiles only where an SMS will be sent, and a caller's
`From` read tolerantly."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_msg.contacts import caller_number, normalise_phone, require_mobile
from secure_msg.errors import InvalidPhoneNumber

MOBILE = "+358401234567"


def _rule_before_libphonenumber(raw: str) -> str:
    """The rule the existing blind indexes were computed with (contacts.py until issue 14)."""
    compact = re.sub(r"[\s\-().]", "", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif compact.startswith("0"):
        compact = "+358" + compact[1:]
    assert re.fullmatch(r"\+[1-9]\d{6,14}", compact)
    return compact


@pytest.mark.parametrize("spelling", [
    "+358401234567", "+358 40 123 4567", "040 123 4567", "(040) 123-4567", "040.123.4567",
    "00358-40-1234567", "00358 40 123 4567", " +358 40 1234567 ",
])
def test_every_accepted_spelling_gives_the_one_e164(spelling: str) -> None:
    assert normalise_phone(spelling) == MOBILE == require_mobile(spelling)


# Finnish mobile ranges (040-046, 050) as a person writes them: national, +358 or 00358.
_subscriber = st.text("0123456789", min_size=7, max_size=7)
_prefix = st.sampled_from(["40", "41", "42", "44", "45", "46", "50"])
_lead = st.sampled_from(["0", "+358", "+358 ", "00358", "00358-"])
_sep = st.sampled_from(["", " ", "-"])


@given(_lead, _prefix, _sep, _subscriber)
def test_valid_numbers_keep_the_e164_the_old_rule_gave(lead: str, prefix: str, sep: str,
                                                       sub: str) -> None:
    """Existing blind indexes still match: for a valid number the E.164 is what the
    hand-written rule produced, and normalising it again changes nothing."""
    raw = f"{lead}{prefix}{sep}{sub[:3]}{sep}{sub[3:]}"
    e164 = normalise_phone(raw)
    assert e164 == _rule_before_libphonenumber(raw)
    assert normalise_phone(e164) == e164


def test_foreign_numbers_in_e164_are_unchanged() -> None:
    """A number stored in E.164 from any country normalises to itself (the old rule kept any
    +digits as they were), so its index is unchanged: checked on libphonenumber's example
    number of every region it knows."""
    changed = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        assert example is not None, region
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        if not normalise_phone(e164) == e164 == _rule_before_libphonenumber(e164):
            changed.append((region, e164))
    assert changed == []


@pytest.mark.parametrize("raw", [
    "+358 40 123",            # too short for a Finnish mobile (the old rule took 7+ digits)
    "+35840123456789012",     # too long
    "+358 75 1234567",        # a Finnish range that does not exist
    "+44 7700 900123",        # the UK's range reserved for drama
    "+999 1234567",           # no such country code
    "401234567",              # neither international nor national: no "+" nor trunk 0
    "+358 40 123 4567 ext 5", "+358401234567#", "1-800-FLOWERS", "whatsapp:+358401234567",
    "anonymous", "", "+35840\ud800",
])
def test_impossible_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as err:
        normalise_phone(raw)
    assert err.value.code == "invalid-phone-number"
    assert err.value.status == 422
    assert "e.g. +358 40 123 4567" in str(err.value.detail)


@pytest.mark.parametrize("landline", [
    "+358 9 1234567",    # Helsinki landline
    "09 1234567",        # the same, national
    "+358 800 123456",   # toll-free
    "+358 600 12345",    # premium rate
    "+358 20 1234567",   # nationwide service number
    "+44 20 7946 0958",  # London landline
])
def test_sms_needs_a_mobile(landline: str) -> None:
    """Valid numbers (normalise_phone takes them, e.g. for a caller lookup) that no SMS reaches."""
    assert normalise_phone(landline).startswith("+")
    with pytest.raises(InvalidPhoneNumber) as err:
        require_mobile(landline)
    assert err.value.code == "invalid-phone-number"
    assert "not a mobile number" in str(err.value.detail)
    assert err.value.extensions["errors"] == [{"field": "phone", "reason": "not-mobile"}]


@pytest.mark.parametrize("mobile", [
    "+46 70 123 45 67",   # Sweden, mobile
    "+49 151 12345678",   # Germany, mobile
    "+1 202 555 0123",    # US: libphonenumber cannot tell a US mobile from a landline
])
def test_foreign_mobiles_may_get_sms(mobile: str) -> None:
    assert require_mobile(mobile) == normalise_phone(mobile)


@pytest.mark.parametrize(("from_", "expected"), [
    ("+358401234567", "+358401234567"),
    ("+358 9 1234567", "+35891234567"),   # a landline may call, to cancel by key press
    ("+266696687", "+266696687"),         # invalid to libphonenumber, but E.164-shaped: kept
    ("anonymous", None), ("client:alice", None), ("sip:a@example.fi", None), ("+3584", None),
])
def test_a_callers_from_is_read_tolerantly(from_: str, expected: str | None) -> None:
    """Anyone can call: an unusable From is an unknown caller, never an error; an E.164 From
    libphonenumber does not know still finds (and records consent for) the number."""
    assert caller_number(from_) == expected
