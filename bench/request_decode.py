"""Decoding and checking the body of POST /api/booklets/{id}/entries, three ways, in one run.

    .venv/bin/python bench/request_decode.py [--envelope-bytes 3072] [--seconds 1]

The body is `{"envelope": "<unpadded base64url>"}` with a random envelope (3072 bytes: 4 KB of
text); each way returns the envelope's bytes with the same checks and the same errors:

- json_io: what the handler did before request types: json.loads, the structure walk of
  web/json_io.py (depth, lone surrogates) and its base64url field reader;
- msgspec: web/typed_json.decode_json with the handler's EntryBody (a msgspec.Struct that
  refuses unknown fields, decoded by msgspec.json.Decoder; the field's base64url reading in a
  dec_hook); anything it refuses would take the careful path (json_io's);
- pydantic: a pydantic v2 model of the same body (extra="forbid") with the same base64url
  reading, `model_validate_json`; the same fallback would apply.

Each is also timed with the envelope as plain text (no base64url decoding), which is the part
the library decides; the base64url decoding alone is timed once. Figures are microseconds per
call, the median of five batches; the machine's other load moves them, their order holds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import pydantic

from secure_msg import base64url
from secure_msg.web import json_io, typed_json
from secure_msg.web.request_types import EntryBody


def per_call(ways: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Microseconds per call of each way: the median of seven batches, the ways' batches taken
    in turn so that a change in the machine's load falls on all of them alike."""
    sizes = {}
    for name, fn in ways.items():
        fn()
        n, elapsed = 1, 0.0
        while elapsed < seconds / 7:
            n *= 2
            start = time.perf_counter()
            for _ in range(n):
                fn()
            elapsed = time.perf_counter() - start
        sizes[name] = n
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(7):
        for name, fn in ways.items():
            n = sizes[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: sorted(times)[3] * 1e6 for name, times in samples.items()}


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("base64url text required")  # pydantic's error for a value
    return base64url.decode(value)


class PydanticEntry(pydantic.BaseModel, extra="forbid"):
    envelope: Annotated[bytes, pydantic.PlainValidator(_b64)]


class PydanticText(pydantic.BaseModel, extra="forbid"):
    envelope: str


class MsgspecText(msgspec.Struct, forbid_unknown_fields=True):
    envelope: str


def ways(raw: bytes) -> dict[str, Callable[[], object]]:
    """name → a call that decodes `raw` as the entry body."""
    text_decoder = msgspec.json.Decoder(MsgspecText)

    def today() -> bytes:
        body = json_io.parse_object(raw)
        value = body.get("envelope")
        if not isinstance(value, str):
            raise ValueError("base64url text required")
        return base64url.decode(value)

    def today_text() -> object:
        return json_io.parse_object(raw).get("envelope")

    def with_msgspec() -> bytes:
        return typed_json.decode_json(raw, EntryBody, json_io.parse_object).envelope

    def with_pydantic() -> bytes:
        return PydanticEntry.model_validate_json(raw).envelope

    return {
        "json_io (json.loads + walk + base64url)": today,
        "msgspec Struct (decode_json)": with_msgspec,
        "pydantic v2 model_validate_json": with_pydantic,
        "json_io, text only": today_text,
        "msgspec, text only": lambda: text_decoder.decode(raw).envelope,
        "pydantic, text only": lambda: PydanticText.model_validate_json(raw).envelope,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="request_decode")
    parser.add_argument("--envelope-bytes", type=int, default=3072)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    envelope = os.urandom(args.envelope_bytes)
    text = base64url.encode(envelope)
    raw = json.dumps({"envelope": text}).encode()
    print(f"body: {len(raw)} bytes, envelope {len(envelope)} bytes as {len(text)} characters")
    extra = json.dumps({"envelope": text, "client": "x"}).encode()
    timed: dict[str, Callable[[], object]] = {
        **ways(raw),
        "msgspec, an extra field (careful path)":
            lambda: typed_json.decode_json(extra, EntryBody, json_io.parse_object).envelope,
        "base64url.decode alone": lambda: base64url.decode(text),
    }
    for name, fn in timed.items():
        assert fn() in {envelope, text}, name  # every way reads the same thing
    for name, micros in per_call(timed, args.seconds).items():
        print(f"{name:42} {micros:7.2f} µs")

if __name__ == "__main__":
    main()
