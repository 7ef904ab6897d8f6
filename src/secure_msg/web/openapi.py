"""Route registration that documents itself: every route goes through `add_route`.

    from secure_msg.web.openapi import add_route

    def setup_routes(app: web.Application) -> None:
        add_route(app, "POST", "/api/booklets/{booklet_id}/entries", post_entry,
                  summary="Post an entry", request=EntryBody, response=Posted,
                  status=201, errors=(403, 409), auth=True)

`/api/openapi.json` is built from these registrations (OpenAPI 3.1, JSON Schema 2020-12). The
request, query and response types (web/request_types.py, web/response_types.py) are the ones
the handlers decode and build, so the document says what the code does. Each operation lists
every status it can answer: its success, the `errors` its services raise, and those its shape
implies (a JSON body: 400, 408, 413, 415, 422; a bearer token: 401; an id in the path: 404,
and 403 for a booklet's with a session, for a caregiver waiting or expired; a query: 422).
There is no `default` response: a status not listed is a defect, and the contract test
(secure_msg.testing.contract) fails on one. tests/web/test_openapi.py fails when a route of
the app is missing from the document or a handler reads a query parameter not declared here.
"""

from __future__ import annotations

import http
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from secure_msg.web import response_types
from secure_msg.web.typed_json import REF_TEMPLATE, HexId, JsonSchema, schema_components

TypeOrSchema = type | Mapping[str, Any]
ExpectHandler = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
_REGEX_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}")
PROBLEM = "application/problem+json"
FORM = "application/x-www-form-urlencoded"
# Path parameters other than ids (`*_id`: 32 lowercase hex digits, anything else is 404).
PATH_PARAMS: Mapping[str, JsonSchema] = {
    "token": {"type": "string", "description": "the token of an invitation link"},
    "path": {"type": "string", "description": "a file of the web inbox"},
    "notice": {"type": "string", "pattern": "^[1-9][0-9]{0,17}$",
               "description": "a notice's number (its `id`); anything else is 404"},
}
JSON_BODY_ERRORS = (400, 408, 413, 415, 422)
FORM_BODY_ERRORS = (400, 408, 413, 415)
# A streamed binary body (an encrypted attachment): its length is required and checked first.
BINARY = "application/octet-stream"
BINARY_BODY_ERRORS = (400, 408, 411, 413, 415)
BINARY_SCHEMA: Mapping[str, Any] = {"type": "string", "contentMediaType": BINARY}
# Answers of aiohttp's file responses (conditional and range requests); they carry no body.
FILE_STATUSES: Mapping[int, str] = {
    206: "Partial content (a Range request)", 304: "Not modified (a conditional request)",
    412: "Precondition failed", 416: "Range not satisfiable",
}
_HEADERS: Mapping[int, JsonSchema] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    405: {"Allow": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds", "schema": {"type": "integer", "minimum": 0}}},
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # aiohttp template, e.g. /api/booklets/{booklet_id}
    summary: str
    request: type | None = None  # a JSON body (web/request_types.py)
    response: TypeOrSchema | None = None
    status: int = 200
    response_type: str = "application/json"
    errors: tuple[int, ...] = ()
    auth: bool = False
    tags: tuple[str, ...] = ()
    description: str = ""
    query: type | None = None  # query parameters (web/request_types.py)
    form: bool = False  # a url-encoded form body (the Twilio webhooks)
    also: Mapping[int, str] = field(default_factory=dict)  # other statuses, without a body
    response_types: tuple[str, ...] = ()  # further media types of the success response
    handler: Handler | None = None
    binary: bool = False  # a streamed application/octet-stream body

    @property
    def openapi_path(self) -> str:
        return _REGEX_PARAM.sub(lambda m: "{" + m[1] + "}", self.path)

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(name for name, _ in _REGEX_PARAM.findall(self.path))

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """Every problem+json status: the declared ones and those the shape implies."""
        implied: list[int] = []
        if self.request is not None:
            implied += JSON_BODY_ERRORS
        if self.form:
            implied += FORM_BODY_ERRORS
        if self.binary:
            implied += BINARY_BODY_ERRORS
        if self.auth:
            implied.append(401)
        if any(name.endswith("_id") for name in self.path_params):
            implied.append(404)
        if self.auth and "booklet_id" in self.path_params:
            implied.append(403)  # a caregiver's consent-pending or membership-expired
        if self.query is not None:
            implied.append(422)
        # Any request: one connection too many (web/protocol.py), or the database does not
        # answer (errors.DatabaseUnavailable: PostgreSQL down or restarting).
        implied.append(503)
        return tuple(sorted({*self.errors, *implied}))

    @property
    def statuses(self) -> tuple[int, ...]:
        return tuple(sorted({self.status, *self.error_statuses, *self.also}))


@dataclass
class ApiRegistry:
    operations: list[Operation] = field(default_factory=list)

    def document(self, *, title: str, version: str, server_url: str) -> dict[str, Any]:
        types = _types(self.operations)
        schemas, components = schema_components(types)
        by_type = dict(zip(types, schemas, strict=True))
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.openapi_path, {})[op.method.lower()] = _operation_object(
                op, by_type, components)
        for query in {op.query for op in self.operations if op.query is not None}:
            components.pop(query.__name__, None)  # inlined as parameters
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "servers": [{"url": server_url}],
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }


def _types(operations: Iterable[Operation]) -> list[Any]:
    found: list[Any] = [response_types.Problem]
    for op in operations:
        for t in (op.request, op.query, op.response):
            if isinstance(t, type) and t not in found:
                found.append(t)
    return found


def _operation_object(op: Operation, by_type: Mapping[Any, JsonSchema],
                      components: Mapping[str, JsonSchema]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', op.openapi_path)}"
        .rstrip("_"),
        "responses": _responses(op, by_type),
    }
    params = [_path_param(name) for name in op.path_params]
    if op.query is not None:
        params += _query_params(components[op.query.__name__])
    if params:
        out["parameters"] = params
    if op.request is not None:
        out["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": by_type[op.request]}}}
    if op.form:
        out["requestBody"] = {"required": True, "content": {FORM: {"schema": {
            "type": "object", "additionalProperties": {"type": "string"}}}}}
    if op.binary:
        out["requestBody"] = {"required": True, "content": {BINARY: {"schema": dict(
            BINARY_SCHEMA)}}}
    if op.auth:
        out["security"] = [{"bearer": []}]
    for key, value in (("tags", list(op.tags)), ("description", op.description)):
        if value:
            out[key] = value
    return out


def _responses(op: Operation, by_type: Mapping[Any, JsonSchema]) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.status): {"description": _phrase(op.status)}}
    if op.response is not None:
        schema = by_type[op.response] if isinstance(op.response, type) else dict(op.response)
        responses[str(op.status)]["content"] = {
            media: {"schema": schema} for media in (op.response_type, *op.response_types)}
    for status in op.error_statuses:
        responses[str(status)] = _problem_response(status)
    for status, description in op.also.items():
        responses[str(status)] = {"description": description}
    return dict(sorted(responses.items()))


def _problem_response(status: int) -> dict[str, Any]:
    schema = {"allOf": [{"$ref": REF_TEMPLATE.format(name="Problem")},
                        {"properties": {"status": {"const": status}}}]}
    out: dict[str, Any] = {"description": _phrase(status), "content": {PROBLEM: {
        "schema": schema}}}
    if status in _HEADERS:
        out["headers"] = dict(_HEADERS[status])
    return out


def _phrase(status: int) -> str:
    return http.HTTPStatus(status).phrase


def _path_param(name: str) -> dict[str, Any]:
    if name.endswith("_id"):
        schema: JsonSchema = {"type": "string", "pattern": HexId.PATTERN}
    else:
        schema = dict(PATH_PARAMS[name])
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_params(component: Mapping[str, Any]) -> list[dict[str, Any]]:
    required = set(component.get("required", ()))
    params = []
    for name, prop in component.get("properties", {}).items():
        schema = {k: v for k, v in prop.items() if k not in ("description", "examples")}
        # An optional parameter is absent, never null: document the value's own type.
        values = [s for s in schema.pop("anyOf", ()) if s != {"type": "null"}]
        if values:
            schema = {**values[0], **schema}
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                 "schema": schema}
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params


API_REGISTRY = web.AppKey("api_registry", ApiRegistry)


def add_route(  # noqa: PLR0913 - each keyword is one fact of the document
    app: web.Application, method: str, path: str, handler: Handler, *, summary: str,
    request: type | None = None, response: TypeOrSchema | None = None, status: int = 200,
    response_type: str = "application/json", errors: Sequence[int] = (), auth: bool = False,
    tags: Sequence[str] = (), description: str = "", query: type | None = None,
    form: bool = False, also: Mapping[int, str] | None = None,
    response_types: Sequence[str] = (), binary: bool = False,
    expect_handler: ExpectHandler | None = None,
) -> web.AbstractRoute:
    """Add a route to the app's router and to the OpenAPI document, in one step. `binary`:
    the body is a stream of bytes (BINARY), read by the handler itself; `expect_handler`
    answers `Expect: 100-continue` in place of aiohttp's, which says "continue" at once."""
    op = Operation(method.upper(), path, summary, request, response, status, response_type,
                   tuple(errors), auth, tuple(tags), description, query, form, dict(also or {}),
                   tuple(response_types), handler, binary)
    _check(op)
    app[API_REGISTRY].operations.append(op)
    if op.method == "GET":
        # HEAD as well (RFC 9110 §9.3.2: whatever answers GET answers HEAD), by the same handler;
        # not in the document, where it would double every GET for no information.
        return app.router.add_get(path, handler, allow_head=True)
    return app.router.add_route(op.method, path, handler, expect_handler=expect_handler)


def _check(op: Operation) -> None:
    """Refuse a registration the document could not describe."""
    unknown = [s for s in op.statuses if s not in http.HTTPStatus.__members__.values()]
    if unknown:
        raise ValueError(f"not an HTTP status: {unknown}")
    if sum((op.request is not None, op.form, op.binary)) > 1:
        raise ValueError("one kind of body: request, form or binary")
    bad = [s for s in op.errors if not 400 <= s <= 599]
    if bad:
        raise ValueError(f"errors are 4xx and 5xx statuses: {bad}")
    undeclared = [n for n in op.path_params if not n.endswith("_id") and n not in PATH_PARAMS]
    if undeclared:
        raise ValueError(f"path parameters without a schema in PATH_PARAMS: {undeclared}")
