"""Entry payloads (§4.5): the JSON inside the ciphertext. The server never sees these."""

from __future__ import annotations

import json
from typing import Any

from .envelope import KINDS
from .errors import ProtocolError

_REQUIRED: dict[str, dict[str, type]] = {
    "title": {"title": str},
    "note": {"text": str},
    "homework": {"task": str, "frequency": str},
    "homework-log": {"homework": str, "done": bool, "how": str, "date": str},
    "document": {"name": str, "media_type": str, "data": str},
    "system": {"text": str},
}


def encode_payload(kind: str, **fields: Any) -> bytes:
    payload = {"kind": kind, **fields}
    check_payload(payload, kind)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def check_payload(payload: object, kind: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        raise ProtocolError("bad-payload", "kind does not match the header")
    for name, typ in _REQUIRED[kind].items():
        if not isinstance(payload.get(name), typ):
            raise ProtocolError("bad-payload", f"field {name!r} missing or of the wrong type")
    return payload


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON (RFC 8259); the browser's JSON.parse refuses them too."""
    raise ValueError(f"{name} is not JSON")


def decode_payload(kind_id: int, plaintext: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(plaintext.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and 4300+-digit integers; RecursionError deep
        # nesting: a hostile entry must be a typed refusal, never a crash of the reader.
        raise ProtocolError("bad-payload", "not RFC 8259 JSON") from exc
    return check_payload(payload, KINDS[kind_id])
