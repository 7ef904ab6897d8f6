"""secure_msg.base64url: one encoder and the two readings its callers have always had, the
API's strict one (web/json_io.py) and the stdlib's lenient one (the client, invitation tokens)."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_msg import base64url

# What the API has accepted since before this module decoded: its alphabet, no padding, and
# the stdlib decoder for the rest (web/json_io.py as it was).
_OLD_API = re.compile("[A-Za-z0-9_-]*")


@pytest.mark.parametrize(("data", "text"), [
    (b"", ""),
    (b"\x00", "AA"),  # no padding, at any length
    (b"\x00\x00", "AAA"),
    (b"\x00\x00\x00", "AAAA"),
    (b"\xfb\xff", "-_8"),  # the URL-safe alphabet, not + and /
])
def test_encode_is_unpadded_and_url_safe(data: bytes, text: str) -> None:
    assert base64url.encode(data) == text
    assert base64url.decode(text) == data
    assert base64url.decode_lenient(text) == data


@given(st.binary(max_size=100))
def test_every_encoding_decodes_back_both_ways(data: bytes) -> None:
    text = base64url.encode(data)
    assert base64url.decode(text) == base64url.decode_lenient(text) == data


@pytest.mark.parametrize("text", [
    "A", "AAAAA",  # one more than a multiple of 4: no byte ends there
    "AA==", "AA=", "=",  # padding
    "+/8", "AA/A",  # the standard alphabet
    "AA AA", "AAAA\n", " AA",  # whitespace the stdlib would skip
    "AA.A", "é", "\ud800", "\x00",
])
def test_decode_refuses_anything_but_the_alphabet_unpadded(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not valid base64url$"):
        base64url.decode(text)


def test_decode_ignores_the_bits_past_the_last_byte() -> None:
    """Not canonical-checked, as the API never did: a client's "AB" means b"\\x00"."""
    assert base64url.decode("AB") == base64url.decode("AA") == b"\x00"
    assert base64url.decode("AAB") == b"\x00\x00"


@given(st.text(alphabet="AB-_+/= \n.é", max_size=12))
def test_decode_accepts_what_the_api_accepted_before(text: str) -> None:
    """The same inputs, the same bytes, as the regex and the stdlib decoder together."""
    try:
        old: bytes | None = None
        if _OLD_API.fullmatch(text):
            old = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        old = None
    try:
        new: bytes | None = base64url.decode(text)
    except ValueError:
        new = None
    assert new == old


@pytest.mark.parametrize(("text", "data"), [
    ("AA==", b"\x00"), ("AA=", b"\x00"),  # padding, whole or partial
    ("+/8", b"\xfb\xff"),  # the standard alphabet
    ("AA AA", b"\x00\x00\x00"), ("AAAA\n", b"\x00\x00\x00"),  # stray characters skipped
])
def test_decode_lenient_reads_what_the_stdlib_reads(text: str, data: bytes) -> None:
    assert base64url.decode_lenient(text) == data


@pytest.mark.parametrize(("text", "message"), [
    ("A", "number of data characters"), ("AAAAA", "number of data characters"),
    ("A\nA", "Incorrect padding"), ("é", "only ASCII characters"),
])
def test_decode_lenient_raises_the_stdlibs_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):  # binascii.Error is a ValueError
        base64url.decode_lenient(text)
