"""Contact addresses in the one form the service stores, compares and indexes. Pure.

The vault's blind index (crypto/vault.py) is computed over these forms, so two spellings of the
same number or address find the same row; changing a rule here makes existing indexes unfindable.
Phone numbers are checked against libphonenumber's metadata (the `phonenumbers` package): an
impossible number is refused when it is typed, not when Twilio refuses the SMS days later.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType

from secure_msg.errors import InvalidEmailAddress, InvalidPhoneNumber

DEFAULT_REGION = "FI"  # national-format input ("040 123 4567") is a Finnish number
# What a person types: digits, spacing and punctuation, led by "+" or a trunk or IDD "0".
# No letters, so no vanity numbers or extensions ("ext. 12") that E.164 would silently drop.
_TYPED = re.compile(r"[\s\-().]*[+0][\d\s\-().]{6,40}")
# Types that can receive an SMS. Some regions (US, CA) cannot tell a mobile from a landline.
_SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _parse_valid(raw: str, default_region: str) -> PhoneNumber:
    if not _TYPED.fullmatch(raw):
        raise InvalidPhoneNumber("Give the number in international form, e.g. +358 40 123 4567.")
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("This is not a valid phone number; check the digits and the "
                                 "country code, e.g. +358 40 123 4567.")
    return number


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalise_phone(raw: str, default_region: str = DEFAULT_REGION) -> str:
    """A valid phone number of any type in E.164 ("+358401234567"); national numbers are read
    in `default_region`. Deterministic: every accepted spelling of a number gives one string."""
    return _e164(_parse_valid(raw, default_region))


def require_mobile(raw: str, default_region: str = DEFAULT_REGION) -> str:
    """`raw` in E.164 if it can receive an SMS (a mobile number), else InvalidPhoneNumber with
    its own detail: a landline, toll-free or service number would fail only later, at Twilio."""
    number = _parse_valid(raw, default_region)
    if phonenumbers.number_type(number) not in _SMS_TYPES:
        raise InvalidPhoneNumber(
            "This number cannot receive text messages (it is not a mobile number); give a "
            "mobile number, e.g. +358 40 123 4567.",
            errors=[{"field": "phone", "reason": "not-mobile"}])
    return _e164(number)


def caller_number(raw: str) -> str | None:
    """A caller's `From` as E.164, tolerantly: anyone can call, so a number libphonenumber does
    not know (newer than its metadata, or stored before these rules) is kept if it is already
    E.164-shaped, and anything else (a SIP address, "anonymous") is None: an unknown caller."""
    try:
        return normalise_phone(raw)
    except InvalidPhoneNumber:
        return raw if _E164.fullmatch(raw) else None


def normalise_email(raw: str) -> str:
    """Trimmed, lower-cased address (the local part too: no provider we meet is case-sensitive)."""
    address = raw.strip().lower()
    if len(address) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s.]+", address):
        raise InvalidEmailAddress("Give an address like name@example.fi.")
    return address
