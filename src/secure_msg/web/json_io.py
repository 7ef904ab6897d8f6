"""Request parsing for handlers: one JSON object in, typed fields out, clear 4xx errors.

Bytes travel as unpadded base64url; 16-byte ids as 32 lowercase hex digits (they also appear in
URLs). Every failure names the field and never echoes its value (it may be a secret).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from secure_msg import base64url
from secure_msg.errors import InvalidJson, NotFound, UnsupportedMediaType, ValidationFailed

_HEX_ID = re.compile(r"[0-9a-f]{32}")


b64 = base64url.encode  # unpadded base64url: every bytes value the API answers


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", errors=[{"field": field, "problem": problem}])


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send application/json.")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidJson() from None
    if not isinstance(body, dict):
        raise InvalidJson("The body must be a JSON object.")
    return body


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
