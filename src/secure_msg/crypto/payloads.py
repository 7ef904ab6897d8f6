"""Entry payloads (§4.5): the JSON inside the ciphertext. The server never sees these.

The reading is strict where JSON parsers differ, so that no two readers can take one signed
plaintext for two different entries: a member name given twice, nesting deeper than any reader
parses, a lone surrogate. Numbers are never converted (no field of v1 is a number), so no
reader's number limits matter. crypto/payload.mjs reads exactly the same way.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from .attachments import JsonInt, check_attachments
from .envelope import KIND_IDS, KINDS
from .errors import ProtocolError

MAX_DEPTH = 64  # arrays and objects, the payload itself being the first
_SURROGATE = re.compile("[\ud800-\udfff]")
# Strict UTF-8 has no surrogates, so one can only come from an escape: without such an escape
# in the text, no string needs searching (a 16 MB document reads in half the time).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

_REQUIRED: dict[str, dict[str, type]] = {
    "title": {"title": str},
    "note": {"text": str},
    "homework": {"task": str, "frequency": str},
    "homework-log": {"homework": str, "done": bool, "how": str, "date": str},
    "document": {"name": str, "media_type": str, "data": str},
    "system": {"text": str},
}
_OPTIONAL: dict[str, dict[str, type]] = {"homework": {"text": str}}
# A document with `attachments` is the second form (§4.5): its files are blobs (§4.7), named in
# the list, and the inline `name`, `media_type` and `data` of the first form are not read.
_DOCUMENT_V2_OPTIONAL: dict[str, type] = {"text": str}


def encode_payload(kind: str, **fields: Any) -> bytes:
    """The plaintext of an entry; refused (`bad-payload`) if a reader would refuse it."""
    payload = {"kind": kind, **fields}
    check_payload(payload, kind)
    try:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError("bad-payload", "a lone surrogate is not text") from exc
    decode_payload(KIND_IDS[kind], data)
    return data


def check_payload(payload: object, kind: str) -> dict[str, Any]:
    """`kind` and the fields of §4.5 with their types; the payload with only those members."""
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        raise ProtocolError("bad-payload", "kind does not match the header")
    if kind == "document" and "attachments" in payload:
        return _check_document_v2(payload)
    out: dict[str, Any] = {"kind": kind}
    for name, typ in _REQUIRED[kind].items():
        if not isinstance(payload.get(name), typ):
            raise ProtocolError("bad-payload", f"field {name!r} missing or of the wrong type")
        out[name] = payload[name]
    for name, typ in _OPTIONAL.get(kind, {}).items():
        if name in payload:
            if not isinstance(payload[name], typ):
                raise ProtocolError("bad-payload", f"field {name!r} of the wrong type")
            out[name] = payload[name]
    return out


def _check_document_v2(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "document"}
    out["attachments"] = check_attachments(payload["attachments"])
    for name, typ in _DOCUMENT_V2_OPTIONAL.items():
        if name in payload:
            if not isinstance(payload[name], typ):
                raise ProtocolError("bad-payload", f"field {name!r} of the wrong type")
            out[name] = payload[name]
    return out


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON (RFC 8259); the browser's JSON.parse refuses them too."""
    raise ValueError(f"{name} is not JSON")


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Python keeps the last of two equal names and other parsers the first: refuse both."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ProtocolError("bad-payload", "a member name appears twice")
    return out


def _check_tree(root: object, *, strings: bool) -> None:
    """No container deeper than MAX_DEPTH and, when `strings`, no lone surrogate in any string
    or member name."""
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if strings and _SURROGATE.search(value):
                raise ProtocolError("bad-payload", "a lone surrogate is not text")
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ProtocolError("bad-payload", "nested too deeply")
            items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
            for name, child in items:
                stack += [(name, depth), (child, depth + 1)]


def decode_payload(kind_id: int, plaintext: bytes) -> dict[str, Any]:
    """Check 11 of §4.4: the payload's `kind` and fields of §4.5, other members left out."""
    try:
        payload = json.loads(
            plaintext.decode("utf-8"), parse_constant=_refuse_constant, parse_int=JsonInt,
            parse_float=Decimal, object_pairs_hook=_members,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError (a byte-order mark too); RecursionError nesting
        # deeper than Python parses: a hostile entry must be a typed refusal, never a crash.
        raise ProtocolError("bad-payload", "not RFC 8259 JSON") from exc
    _check_tree(payload, strings=_SURROGATE_ESCAPE.search(plaintext) is not None)
    return check_payload(payload, KINDS[kind_id])
