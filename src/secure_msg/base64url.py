"""Unpadded base64url, the API's one text form for bytes (docs/protocol.md §2).

Its own module because both the web layer and the stored entry texts (model/entry_json.py)
write it, and a page of entries calls it a hundred times: binascii directly, not the base64
module, except in `decode_lenient`, which is the stdlib's reading by definition.
"""

from __future__ import annotations

import base64
import binascii
import re

_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_ALPHABET = re.compile("[A-Za-z0-9_-]*")


def encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def decode(text: str) -> bytes:
    """What the API accepts: the 64 characters only (no padding, whitespace or `+/`), in any
    length but one more than a multiple of 4; ValueError otherwise. The bits past the last byte
    are not checked, as they never were: "AB" is b"\\x00" as "AA" is."""
    # binascii alone would skip a stray character silently, so the alphabet is checked first.
    if not _ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not valid base64url")
    return binascii.a2b_base64(text.encode().translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4))


def decode_lenient(text: str) -> bytes:
    """The stdlib's reading, padding restored: `+/`, padding and characters outside the
    alphabet (skipped) are accepted too. For the Python client, which has always read the
    server's answers so, and for invitation tokens, whose lookup checks the length itself."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
