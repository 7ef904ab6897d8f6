"""Request parsing for handlers: one JSON object in, typed fields out, clear 4xx errors.

Bytes travel as unpadded base64url; 16-byte ids as 32 lowercase hex digits (they also appear in
URLs). Every failure names the field and never echoes its value (it may be a secret).

Whatever the parser accepts but the service cannot use is refused here, once, before any handler
sees it: nesting deeper than MAX_DEPTH (the parser's own limit is a RecursionError), integers
past Python's digit limit (a ValueError), and strings with lone surrogates ("\\ud800" is valid
JSON but no UTF-8 text), which would fail later wherever the text is encoded.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from secure_msg import base64url
from secure_msg.errors import InvalidJson, NotFound, UnsupportedMediaType, ValidationFailed

_HEX_ID = re.compile(r"[0-9a-f]{32}")
# No request body of the API nests deeper than 3; the margin is for clients' extra fields.
MAX_DEPTH = 32
_FIELD_SHOWN = 100  # a field path in an error is cut here: the client chose the key names


b64 = base64url.encode  # unpadded base64url: every bytes value the API answers


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", errors=[{"field": field, "problem": problem}])


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send application/json.")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except RecursionError:
        raise InvalidJson(f"The body nests deeper than {MAX_DEPTH} levels.") from None
    except ValueError:  # not JSON, not UTF-8, or an integer of more than 4300 digits
        raise InvalidJson() from None
    if not isinstance(body, dict):
        raise InvalidJson("The body must be a JSON object.")
    _check_structure(body)
    return body


def _check_structure(body: dict[str, Any]) -> None:
    """Refuse nesting deeper than MAX_DEPTH and text that is not valid Unicode, naming the
    field. Iterative: a recursive walk would fail on the depth it is meant to refuse."""
    stack: list[tuple[str, Any, int]] = [("", body, 1)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and not _is_unicode(value):
                raise _invalid(path, "text with an unpaired surrogate (not valid Unicode)")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidJson(f"The body nests deeper than {MAX_DEPTH} levels.")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            name = _child_path(path, key)
            if isinstance(key, str) and not key.isascii() and not _is_unicode(key):
                raise _invalid(name, "a field name that is not valid Unicode")
            stack.append((name, item, depth + 1))


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        name = f"{path}[{key}]"
    else:  # the key goes into the problem as text: it must survive UTF-8 encoding itself
        key = key.encode("utf-8", "backslashreplace").decode("utf-8")
        name = f"{path}.{key}" if path else key
    return name if len(name) <= _FIELD_SHOWN else name[:_FIELD_SHOWN] + "…"


def get_str(body: dict[str, Any], field: str, *, max_len: int = 200, optional: bool = False
            ) -> str | None:
    value = body.get(field)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "required text")
    if len(value) > max_len:
        raise _invalid(field, f"longer than {max_len} characters")
    return value


def req_str(body: dict[str, Any], field: str, *, max_len: int = 200) -> str:
    value = get_str(body, field, max_len=max_len)
    assert value is not None
    return value


def get_int(body: dict[str, Any], field: str, *, minimum: int = 0, maximum: int = 2**62) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise _invalid(field, f"an integer from {minimum} to {maximum}")
    return value


def get_bytes(body: dict[str, Any], field: str, *, length: int | None = None,
              max_len: int = 1 << 24) -> bytes:
    value = body.get(field)
    if not isinstance(value, str) or len(value) > max_len * 4 // 3 + 4:
        raise _invalid(field, "base64url text required")
    try:
        data = base64url.decode(value)
    except ValueError:
        raise _invalid(field, "not valid base64url") from None
    if length is not None and len(data) != length:
        raise _invalid(field, f"must decode to {length} bytes")
    return data


def path_id(request: web.Request, name: str) -> bytes:
    """A 16-byte id from the URL; a malformed one is simply not found."""
    value = request.match_info[name]
    if not _HEX_ID.fullmatch(value):
        raise NotFound()
    return bytes.fromhex(value)


def body_id(body: dict[str, Any], field: str) -> bytes:
    value = body.get(field)
    if not isinstance(value, str) or not _HEX_ID.fullmatch(value):
        raise _invalid(field, "32 lowercase hex digits")
    return bytes.fromhex(value)


def query_int(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise _invalid(name, "a non-negative integer")
    return int(raw)
