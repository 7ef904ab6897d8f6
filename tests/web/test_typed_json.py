"""web/typed_json.py's fast path (msgspec straight into the type) answers every body exactly as
its careful path (json.loads, the structure checks, then the type) does: the same value, or the
same error with the same status and fields."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_msg.errors import SecureMsgError
from secure_msg.web.json_io import parse_object
from secure_msg.web.request_types import (
    InviteBody,
    LoginBody,
    NoticeBody,
    PeriodBody,
    ReceiptBody,
)
from secure_msg.web.typed_json import convert, decode_json

TYPES = (LoginBody, ReceiptBody, InviteBody, NoticeBody, PeriodBody)
FIELDS = sorted({f.name for t in TYPES for f in msgspec.structs.fields(t)} | {"extra"})
ODD_TEXT = ("A" * 43, "ab\ud800cd", "  ", "", "2026-01-01", "0001-01-01", "ab" * 16,
            "guardian", "sms", "2026-01-01T10:00:00+02:00")
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
           | st.text(max_size=8) | st.sampled_from(ODD_TEXT))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3),
                      max_leaves=8)


def _outcome(call: Any) -> tuple[Any, ...]:
    try:
        result = call()
    except SecureMsgError as error:
        return ("refused", error.status, error.code, dict(error.extensions))
    return ("read", msgspec.structs.asdict(result))


def _careful(raw: bytes, type_: type) -> Any:
    names = {f.encode_name for f in msgspec.structs.fields(type_)}
    return convert({k: v for k, v in parse_object(raw).items() if k in names}, type_)


@settings(max_examples=300, deadline=None)
@given(type_=st.sampled_from(TYPES), body=st.dictionaries(st.sampled_from(FIELDS), values,
                                                          max_size=6))
def test_the_fast_path_answers_as_the_careful_one(type_: type, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()  # ensure_ascii: a surrogate travels as its escape
    assert _outcome(lambda: decode_json(raw, type_, parse_object)) == _outcome(
        lambda: _careful(raw, type_))


def test_bodies_msgspec_alone_would_accept_are_refused_as_json_loads_does() -> None:
    """Nesting past 32 levels and a 5,000-digit number (json.loads' limit) in a field no type
    reads, and a number where text is expected: 400 invalid-json, as before the types."""
    for raw in (b'{"login": "x", "auth_key": "' + b"A" * 43 + b'", "x": ' + b"[" * 40
                + b"]" * 40 + b"}",
                b'{"read_seq": 1, "x": ' + b"9" * 5000 + b"}",
                b'{"role": "guardian", "name": ' + b"9" * 5000 + b"}"):
        for type_ in (LoginBody, ReceiptBody, InviteBody):
            outcome = _outcome(lambda raw=raw, type_=type_: decode_json(raw, type_, parse_object))
            assert outcome[:3] == ("refused", 400, "invalid-json"), (raw[:40], type_)
