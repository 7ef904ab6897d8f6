"""Request bodies and query strings as types: one declaration gives the check and the schema.

    class LoginBody(msgspec.Struct):
        login: Text200
        auth_key: Key32            # base64url in JSON, 32 bytes in Python

    body = decode_json(raw, LoginBody)        # web/json_io.read_body does this for handlers
    components = schema_components([LoginBody, ...])   # web/openapi.py, for the document

msgspec decodes a body straight into the type (chosen by measurement: bench/request_decode.py).
The types refuse fields they do not name (`forbid_unknown_fields`), so the fast path only takes
bodies made of declared, flat fields, where msgspec and json.loads agree. Any other body (an
extra field, a lone surrogate, nesting, a number too long, an error) goes through the careful
path: json.loads and the structure checks of web/json_io.py, fields the type does not name
dropped, then msgspec.convert. So what is accepted, what is ignored and every error answered are
those of json.loads and the type, whichever path ran.

Field types the API needs beyond str and int (base64url bytes, hex ids, times) subclass
`JsonField`: each says how it is read from JSON and what its schema is. Errors name the field
and never echo the value (it may be a secret).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, ClassVar, Self, TypeVar

import msgspec
from msgspec import inspect as mi

from secure_msg import base64url
from secure_msg.errors import InvalidJson, ValidationFailed

T = TypeVar("T")
JsonSchema = dict[str, Any]
REF_TEMPLATE = "#/components/schemas/{name}"
_AT = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<path>.*)`)?", re.DOTALL)
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]*)`")
_TOO_LONG = re.compile(r"Expected `str` of length <= (?P<n>\d+)")
_FIELD = re.compile(r"\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)")


def invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", errors=[{"field": field, "problem": problem}])


class JsonField:
    """A field type with its own reading from JSON and its own schema (a mixin)."""

    @classmethod
    def from_json(cls, value: object) -> Self:
        """The value from its JSON form; ValueError (its text is the problem) if it is none."""
        raise NotImplementedError

    @classmethod
    def json_schema(cls) -> JsonSchema:
        raise NotImplementedError


class Base64Url(JsonField, bytes):
    """Unpadded base64url text in JSON (docs/protocol.md §2); bytes in Python."""

    length: ClassVar[int | None] = None  # decoded length, when fixed
    max_bytes: ClassVar[int] = 1 << 24  # the text is refused unread past this many bytes' worth

    @classmethod
    def from_json(cls, value: object) -> Self:
        if not isinstance(value, str) or len(value) > cls._max_chars():
            raise ValueError("base64url text required")
        try:
            data = base64url.decode(value)
        except ValueError:
            raise ValueError("not valid base64url") from None
        if cls.length is not None and len(data) != cls.length:
            raise ValueError(f"must decode to {cls.length} bytes")
        return cls(data)

    @classmethod
    def _max_chars(cls) -> int:
        return cls.max_bytes * 4 // 3 + 4

    @classmethod
    def json_schema(cls) -> JsonSchema:
        schema: JsonSchema = {"type": "string", "contentEncoding": "base64url",
                              "pattern": "^[A-Za-z0-9_-]*$"}
        if cls.length is not None:
            chars = -(-cls.length * 4 // 3)  # unpadded
            schema.update(minLength=chars, maxLength=chars,
                          description=f"unpadded base64url of {cls.length} bytes")
        else:
            schema.update(maxLength=cls._max_chars(), description="unpadded base64url")
        return schema


class HexId(JsonField, bytes):
    """A 16-byte id as 32 lowercase hex digits (as in URLs); bytes in Python."""

    PATTERN: ClassVar[str] = "^[0-9a-f]{32}$"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile("[0-9a-f]{32}")

    @classmethod
    def from_json(cls, value: object) -> Self:
        if not isinstance(value, str) or not cls._SHAPE.fullmatch(value):
            raise ValueError("32 lowercase hex digits")
        return cls(bytes.fromhex(value))

    @classmethod
    def json_schema(cls) -> JsonSchema:
        return {"type": "string", "pattern": cls.PATTERN}


def _dec_hook(type_: type, value: Any) -> Any:
    if isinstance(type_, type) and issubclass(type_, JsonField):
        return type_.from_json(value)
    raise NotImplementedError(type_)


def _schema_hook(type_: type) -> JsonSchema:
    if isinstance(type_, type) and issubclass(type_, JsonField):
        return type_.json_schema()
    raise NotImplementedError(type_)


def schema_components(types: Iterable[Any]) -> tuple[tuple[JsonSchema, ...], JsonSchema]:
    """Each type's schema (a $ref for Structs and TypedDicts) and the shared components."""
    schemas, components = msgspec.json.schema_components(
        tuple(types), schema_hook=_schema_hook, ref_template=REF_TEMPLATE)
    for schema in components.values():
        # Extra fields are ignored (the careful path drops them), not refused: say so.
        if schema.get("additionalProperties") is False:
            del schema["additionalProperties"]
    return tuple(schemas), components


_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


def _decoder(type_: type[T]) -> msgspec.json.Decoder[T]:
    decoder = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_, dec_hook=_dec_hook)
    return decoder


def decode_json(raw: bytes, type_: type[T], parse: Callable[[bytes], dict[str, Any]]) -> T:
    """`raw` as a `type_`, or the error json.loads and the type give (`parse` is the careful
    path's json.loads with its structure checks: web/json_io.parse_object)."""
    try:
        return _decoder(type_).decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        pass  # the careful path below finds the fault, if any, and names it as it always has
    body = parse(raw)
    names = _field_names(type_)
    return convert({k: v for k, v in body.items() if k in names}, type_)


def convert(value: Mapping[str, Any], type_: type[T]) -> T:
    """A parsed JSON object (or query values) as a `type_`; 422 naming the field if it is not."""
    try:
        return msgspec.convert(value, type_, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise _validation_failed(type_, str(exc)) from None


def _validation_failed(type_: type, text: str) -> InvalidJson | ValidationFailed:
    match = _AT.fullmatch(text)
    assert match is not None  # the pattern matches any text
    message, path = match["message"], match["path"] or ""
    missing = _MISSING.fullmatch(message)
    top = _FIELD.match(path)
    if missing is None and top is None:
        return InvalidJson("The body must be a JSON object.")  # the root was not one
    field = top["field"] if top else missing["field"] if missing else ""
    return invalid(field, _problem(type_, field, message))


def _problem(type_: type, field: str, message: str) -> str:
    """The problem in the words the API has always used: what the field must be."""
    expected, own_words = _expectations(type_).get(field, (_ANY, False))
    too_long = _TOO_LONG.match(message)
    if too_long:
        return f"longer than {too_long['n']} characters"
    if own_words and not _MISSING.fullmatch(message):
        return message  # a JsonField's own problem text (from_json's ValueError)
    return expected


@cache
def _expectations(type_: type) -> dict[str, tuple[str, bool]]:
    """Per field: what it must be, in words, and whether it names its own problems."""
    info = mi.type_info(type_)
    assert isinstance(info, mi.StructType)
    return {f.encode_name: _expectation(f.type) for f in info.fields}


def _expectation(info: mi.Type) -> tuple[str, bool]:
    if isinstance(info, mi.Metadata):  # a type with a description: the type beneath
        return _expectation(info.type)
    if isinstance(info, mi.UnionType):
        kinds = [t for t in info.types if not isinstance(t, mi.NoneType)]
        return _expectation(kinds[0]) if len(kinds) == 1 else (_ANY, False)
    if isinstance(info, mi.CustomType) and issubclass(info.cls, JsonField):
        try:
            info.cls.from_json(None)
        except ValueError as missing:  # what it says when there is nothing to read
            return str(missing), True
        return _ANY, True
    if isinstance(info, mi.ListType):
        item, _ = _expectation(info.item_type)
        return f"a list of {item}".replace("required ", ""), False
    return _scalar_expectation(info), False


_ANY = "a value of the documented type"


def _scalar_expectation(info: mi.Type) -> str:
    if isinstance(info, mi.StrType):
        return "required text"
    if isinstance(info, mi.IntType):
        low = info.ge if info.ge is not None else -(2**63)
        high = info.le if info.le is not None else 2**63 - 1
        return f"an integer from {low} to {high}"
    if isinstance(info, mi.EnumType):
        return f"one of {sorted(m.value for m in info.cls)}"
    if isinstance(info, mi.LiteralType):
        return f"one of {sorted(str(v) for v in info.values)}"
    return _ANY


_FIELDS: dict[type, tuple[frozenset[str], frozenset[str]]] = {}


def _fields(type_: type) -> tuple[frozenset[str], frozenset[str]]:
    """(every field, the integer ones) of a Struct."""
    found = _FIELDS.get(type_)
    if found is None:
        info = mi.type_info(type_)
        assert isinstance(info, mi.StructType)
        found = _FIELDS[type_] = (
            frozenset(f.encode_name for f in info.fields),
            frozenset(f.encode_name for f in info.fields if _is_int(f.type)))
    return found


def _field_names(type_: type) -> frozenset[str]:
    return _fields(type_)[0]


def _is_int(info: mi.Type) -> bool:
    if isinstance(info, mi.Metadata):
        return _is_int(info.type)
    if isinstance(info, mi.UnionType):
        return any(_is_int(t) for t in info.types)
    return isinstance(info, mi.IntType)


def decode_query(query: Mapping[str, str], type_: type[T]) -> T:
    """Query parameters as a `type_`: integers as at most 18 ASCII digits, then the type's
    bounds; parameters the type does not name are ignored. 422 naming the parameter."""
    names, ints = _fields(type_)
    values: dict[str, Any] = {}
    for name in names & query.keys():
        text = query[name]
        if name in ints:
            if not (text.isascii() and text.isdigit()) or len(text) > 18:
                raise invalid(name, "a non-negative integer")
            values[name] = int(text)
        else:
            values[name] = text
    return convert(values, type_)
