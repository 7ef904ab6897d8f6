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


def decode_payload(kind_id: int, plaintext: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("bad-payload", "not UTF-8 JSON") from exc
    return check_payload(payload, KINDS[kind_id])
