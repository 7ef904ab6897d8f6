"""The fast encoders of the read path write exactly what the plain ones do."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from secure_msg.clock import ms_to_iso
from secure_msg.model.booklets import StoredEntry
from secure_msg.model.entry_json import entry_json, entry_text, page_json
from secure_msg.web.json_io import b64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# From 1970 to year 9999: every millisecond value the database can hold in practice.
_MS = st.integers(min_value=0, max_value=253_402_300_799_999)


@given(_MS)
def test_ms_to_iso_is_datetimes_isoformat(ms: int) -> None:
    """Integer formatting equals datetime's exact ISO text for every millisecond."""
    exact = (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
    assert ms_to_iso(ms) == exact


@given(st.binary(max_size=200))
def test_b64_is_unpadded_base64url(data: bytes) -> None:
    """binascii-based b64 equals the standard library's urlsafe encoding without padding."""
    assert b64(data) == base64.urlsafe_b64encode(data).decode().rstrip("=")


_ENTRY = st.builds(
    StoredEntry, st.binary(min_size=16, max_size=16), st.integers(1, 2**53),
    st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16),
    st.integers(0, 255), _MS, _MS, st.binary(min_size=32, max_size=32), st.binary(max_size=3000),
)


@given(st.lists(_ENTRY, max_size=8), st.integers(0, 2**53))
def test_page_text_parses_to_the_plain_page(entries: list[StoredEntry], last_seq: int) -> None:
    """The hand-written page is valid JSON equal to json.dumps of entry_json per entry."""
    text = page_json([entry_text(e) for e in entries], last_seq)
    assert json.loads(text) == {"entries": [entry_json(e) for e in entries], "last_seq": last_seq}
    assert text.isascii()


@given(_ENTRY)
def test_stored_entry_text_is_json_dumps_of_entry_json(entry: StoredEntry) -> None:
    """The text stored with each entry at insert is the entry's API JSON, compact."""
    text = entry_text(entry)
    assert json.loads(text) == entry_json(entry)
    assert text == json.dumps(entry_json(entry), separators=(",", ":"))
