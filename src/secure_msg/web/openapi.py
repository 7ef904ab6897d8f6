"""Route registration that documents itself: every route goes through `add_route`.

    from secure_msg.web.openapi import add_route

    def setup_routes(app: web.Application) -> None:
        add_route(app, "POST", "/api/booklets", create_booklet,
                  summary="Create a booklet", request=BOOKLET_CREATE, response=BOOKLET,
                  status=201, errors=(400, 401, 422), auth=True)

`/api/openapi.json` is built from these registrations (OpenAPI 3.1, JSON Schema 2020-12), and
tests/web/test_openapi.py fails when any route of the app is missing from the document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from secure_msg.errors import HTTP_STATUS_ERRORS

JsonSchema = Mapping[str, Any]
_REGEX_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}")

PROBLEM_SCHEMA: JsonSchema = {
    "type": "object",
    "description": "RFC 9457 problem details; `type` is a stable code (see errors.py).",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # aiohttp template, e.g. /api/booklets/{booklet_id}
    summary: str
    request: JsonSchema | None = None
    response: JsonSchema | None = None
    status: int = 200
    response_type: str = "application/json"
    errors: tuple[int, ...] = ()
    auth: bool = False
    tags: tuple[str, ...] = ()
    description: str = ""

    @property
    def openapi_path(self) -> str:
        return _REGEX_PARAM.sub(lambda m: "{" + m[1] + "}", self.path)


@dataclass
class ApiRegistry:
    operations: list[Operation] = field(default_factory=list)

    def document(self, *, title: str, version: str, server_url: str) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.openapi_path, {})[op.method.lower()] = _operation_object(op)
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "servers": [{"url": server_url}],
            "paths": paths,
            "components": {
                "schemas": {"Problem": dict(PROBLEM_SCHEMA)},
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }


def _operation_object(op: Operation) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[str, Any] = {
        str(op.status): {
            "description": HTTP_DESCRIPTIONS.get(op.status, "Success"),
            **({"content": {op.response_type: {"schema": dict(op.response)}}}
               if op.response is not None else {}),
        },
    }
    for status in op.errors:
        responses[str(status)] = {"description": HTTP_STATUS_ERRORS[status].title,
                                  "content": problem}
    responses["default"] = {"description": "Error", "content": problem}
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', op.openapi_path)}"
        .rstrip("_"),
        "responses": responses,
    }
    params = _REGEX_PARAM.findall(op.path)
    if params:
        out["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name, _ in params
        ]
    if op.request is not None:
        out["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": dict(op.request)}}}
    if op.auth:
        out["security"] = [{"bearer": []}]
    for key, value in (("tags", list(op.tags)), ("description", op.description)):
        if value:
            out[key] = value
    return out


HTTP_DESCRIPTIONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content"}

API_REGISTRY = web.AppKey("api_registry", ApiRegistry)


def add_route(
    app: web.Application, method: str, path: str, handler: Handler, *, summary: str,
    request: JsonSchema | None = None, response: JsonSchema | None = None, status: int = 200,
    response_type: str = "application/json", errors: Sequence[int] = (), auth: bool = False,
    tags: Sequence[str] = (), description: str = "",
) -> web.AbstractRoute:
    """Add a route to the app's router and to the OpenAPI document, in one step."""
    unknown = [s for s in errors if s not in HTTP_STATUS_ERRORS]
    if unknown:
        raise ValueError(f"no error class for status {unknown}")
    app[API_REGISTRY].operations.append(Operation(
        method.upper(), path, summary, request, response, status, response_type,
        tuple(errors), auth, tuple(tags), description,
    ))
    if method.upper() == "GET":
        # HEAD as well (RFC 9110 §9.3.2: whatever answers GET answers HEAD), by the same handler;
        # not in the document, where it would double every GET for no information.
        return app.router.add_get(path, handler, allow_head=True)
    return app.router.add_route(method.upper(), path, handler)
