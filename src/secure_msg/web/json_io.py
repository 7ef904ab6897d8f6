"""Request parsing for handlers: one JSON object in as a declared type, clear 4xx errors.

    body = await read_body(request, LoginBody)      # web/request_types.py
    query = read_query(request, EntriesQuery)

Bytes travel as unpadded base64url; 16-byte ids as 32 lowercase hex digits (they also appear in
URLs). Every failure names the field and never echoes its value (it may be a secret). The types
are decoded by web/typed_json.py, which falls back to `parse_object` here for any body that is
not plainly well formed.

Whatever json.loads accepts but the service cannot use is refused here, once, before any
handler sees it: nesting deeper than MAX_DEPTH (the parser's own limit is a RecursionError),
integers past Python's digit limit (a ValueError), and strings with lone surrogates ("\\ud800"
is valid JSON but no UTF-8 text), which would fail later wherever the text is encoded.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from aiohttp import web

from secure_msg import base64url
from secure_msg.errors import InvalidJson, NotFound, UnsupportedMediaType
from secure_msg.web.typed_json import decode_json, decode_query, invalid

T = TypeVar("T")
# No request body of the API nests deeper than 3; the margin is for clients' extra fields.
MAX_DEPTH = 32

_HEX_ID = re.compile(r"[0-9a-f]{32}")
_FIELD_SHOWN = 100  # a field path in an error is cut here: the client chose the key names


b64 = base64url.encode  # unpadded base64url: every bytes value the API answers


async def read_body(request: web.Request, type_: type[T]) -> T:
    """The JSON body as `type_` (web/request_types.py): 415 unless application/json, 400 if it
    is not one JSON object, 422 naming the first field that does not fit."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send application/json.")
    return decode_json(await request.read(), type_, parse_object)


def read_query(request: web.Request, type_: type[T]) -> T:
    """The query string as `type_` (web/request_types.py); the only way a handler reads one,
    so that every parameter is declared (tests/web/test_openapi.py)."""
    return decode_query(request.query, type_)


def parse_object(raw: bytes) -> dict[str, Any]:
    """json.loads, refusing what it accepts but the service cannot use (see the module text)."""
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
                raise invalid(path, "text with an unpaired surrogate (not valid Unicode)")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidJson(f"The body nests deeper than {MAX_DEPTH} levels.")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            name = _child_path(path, key)
            if isinstance(key, str) and not key.isascii() and not _is_unicode(key):
                raise invalid(name, "a field name that is not valid Unicode")
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


def path_id(request: web.Request, name: str) -> bytes:
    """A 16-byte id from the URL; a malformed one is simply not found."""
    value = request.match_info[name]
    if not _HEX_ID.fullmatch(value):
        raise NotFound()
    return bytes.fromhex(value)
