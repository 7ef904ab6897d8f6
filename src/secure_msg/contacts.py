"""Contact addresses in the one form the service stores, compares and indexes. Pure.

The vault's blind index (crypto/vault.py) is computed over these forms, so two spellings of the
same number or address find the same row; changing a rule here makes existing indexes unfindable.
"""

from __future__ import annotations

import re

from secure_msg.errors import InvalidEmailAddress, InvalidPhoneNumber


def normalise_phone(raw: str, default_country_code: str = "358") -> str:
    """A phone number in E.164 ("+358401234567"); national numbers get `default_country_code`."""
    compact = re.sub(r"[\s\-().]", "", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif compact.startswith("0"):
        compact = f"+{default_country_code}{compact[1:]}"
    if not re.fullmatch(r"\+[1-9]\d{6,14}", compact):
        raise InvalidPhoneNumber("Give the number in international form, e.g. +358 40 123 4567.")
    return compact


def normalise_email(raw: str) -> str:
    """Trimmed, lower-cased address (the local part too: no provider we meet is case-sensitive)."""
    address = raw.strip().lower()
    if len(address) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s.]+", address):
        raise InvalidEmailAddress("Give an address like name@example.fi.")
    return address
