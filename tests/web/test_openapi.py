"""/api/openapi.json documents every route of the app (a route added without docs fails here)."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any, TypedDict

import msgspec
from aiohttp import web
from aiohttp.test_utils import TestClient

from secure_msg.config import Config
from secure_msg.services.entry_service import MAX_PAGE
from secure_msg.web import json_io
from secure_msg.web.app import create_app
from secure_msg.web.json_io import read_query
from secure_msg.web.openapi import API_REGISTRY, add_route
from secure_msg.web.request_types import MAX_QUERY_INT, EntriesQuery, MembersQuery

Client = TestClient[web.Request, web.Application]




def _app_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or isinstance(resource, web.StaticResource) or route.method == "HEAD":
            continue
        path = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}", r"{\1}", resource.canonical)
        routes.add((route.method.lower(), path))
    return routes


async def test_every_route_is_in_the_openapi_document(client: Client) -> None:
    """Each (method, path) the router serves appears under `paths` in the document."""
    response = await client.get("/api/openapi.json")
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    missing = _app_routes(client.app) - documented
    assert not missing, f"routes missing from /api/openapi.json: {sorted(missing)}"
    assert ("get", "/healthz") in documented


def test_the_check_catches_a_route_added_directly(config: Config) -> None:
    """A route added with router.add_get (bypassing add_route) is detected as undocumented."""
    app = create_app(config)

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/sneaky", sneaky)
    documented = {(op.method.lower(), op.openapi_path) for op in app[API_REGISTRY].operations}
    assert ("get", "/sneaky") in _app_routes(app) - documented


def test_operations_carry_schemas_errors_and_path_parameters(config: Config) -> None:
    """Request and response types become shared components referenced by $ref; problem
    responses, implied statuses and path parameters reach the document; no `default`."""
    app = create_app(config, route_setups=[])

    class Thing(msgspec.Struct):
        x: int

    class ThingOut(TypedDict):
        x: int

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    add_route(app, "POST", r"/api/things/{thing_id:\d+}", handler, summary="Make a thing",
              request=Thing, response=ThingOut, status=201, errors=[409], auth=True)
    doc = app[API_REGISTRY].document(title="t", version="1", server_url="http://x")
    op = doc["paths"]["/api/things/{thing_id}"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"}
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ThingOut"}
    assert doc["components"]["schemas"]["ThingOut"]["required"] == ["x"]
    # 409 declared; 400/408/413/415/422 from the JSON body, 401 from auth, 404 from the id,
    # 503 from any request (too many connections, the database away).
    assert sorted(op["responses"]) == ["201", "400", "401", "404", "408", "409", "413", "415",
                                       "422", "503"]
    assert op["responses"]["404"]["content"]["application/problem+json"]
    assert op["parameters"][0]["name"] == "thing_id"
    assert op["parameters"][0]["schema"]["pattern"] == "^[0-9a-f]{32}$"
    assert op["security"] == [{"bearer": []}]


async def _document(client: Client) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document: dict[str, Any] = await response.json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items()
            for method, op in ops.items()]


async def test_no_operation_hides_statuses_behind_a_default(client: Client) -> None:
    """Every status is listed by number; `default` would make any status documented."""
    document = await _document(client)
    with_default = [(m, p) for m, p, op in _operations(document) if "default" in op["responses"]]
    assert with_default == []


async def test_every_success_has_a_schema_that_says_something(client: Client) -> None:
    """A JSON success is a $ref to a component with declared, required properties (no bare
    {"type": "object"}); other media types, and the web inbox's files, are text; 101, 204 and
    304 carry no body."""
    document = await _document(client)
    components = document["components"]["schemas"]
    vague = []
    for method, path, op in _operations(document):
        for status, response in op["responses"].items():
            if not status.startswith(("1", "2", "3")):
                continue
            for media, content in response.get("content", {}).items():
                schema = content["schema"]
                if media != "application/json" or "304" in op["responses"]:  # or a file
                    ok = schema.get("type") == "string"
                else:
                    target = components.get(schema.get("$ref", "").rsplit("/", 1)[-1], {})
                    ok = bool(target.get("properties")) and bool(target.get("required"))
                if not ok:
                    vague.append((method, path, status, media, schema))
            if status in ("101", "204", "304"):
                assert "content" not in response, (method, path, status)
    assert vague == []


def _reads_of_the_query(source: str) -> tuple[list[str], list[str]]:
    """(query types passed to read_query, other reads of `.query`) in Python source."""
    types, other = [], []
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "read_query":
            types.append(ast.unparse(node.args[1]).rsplit(".", 1)[-1])
        elif (isinstance(node, ast.Attribute) and node.attr in ("query", "query_string")
              and re.search(r"(request|url)$", ast.unparse(node.value))):
            other.append(ast.unparse(node))
    return types, other


def _undeclared_query_reads(app: web.Application) -> list[str]:
    """Handlers that read a query other than through read_query(request, <the declared type>),
    and any module of web/ but json_io.py that touches `.query` at all."""
    found = []
    for op in app[API_REGISTRY].operations:
        assert op.handler is not None
        types, other = _reads_of_the_query(inspect.getsource(op.handler))
        declared = [op.query.__name__] if op.query is not None else []
        if other or sorted(set(types)) != declared:
            found.append(f"{op.method} {op.path}: reads {types + other}, declares {declared}")
    for module in sorted(WEB_DIR.glob("*.py")):
        if module.name != "json_io.py":
            _, other = _reads_of_the_query(module.read_text(encoding="utf-8"))
            found += [f"{module.name}: {read}" for read in other]
    return found


WEB_DIR = Path(json_io.__file__).parent


def test_every_query_parameter_a_handler_reads_is_documented(config: Config) -> None:
    """Handlers read their query only through read_query with the type add_route documents
    (the type is both the check and the document's parameters); nothing else in web/ reads it."""
    assert _undeclared_query_reads(create_app(config)) == []


def test_the_check_catches_a_query_read_by_hand(config: Config) -> None:
    """A handler reading request.query itself, or a type it did not declare, is reported."""
    app = create_app(config, route_setups=[])

    async def by_hand(request: web.Request) -> web.Response:
        return web.json_response({"x": request.query.get("x")})

    async def other_type(request: web.Request) -> web.Response:
        read_query(request, EntriesQuery)
        return web.json_response({})

    add_route(app, "GET", "/by-hand", by_hand, summary="x")
    add_route(app, "GET", "/other", other_type, summary="x", query=MembersQuery)
    found = _undeclared_query_reads(app)
    assert found == [
        "GET /by-hand: reads ['request.query'], declares []",
        "GET /other: reads ['EntriesQuery'], declares ['MembersQuery']",
    ]


async def test_query_parameters_carry_their_bounds(client: Client) -> None:
    """The entries page's since/before/limit are documented with the bounds the API enforces,
    and the API answers 422 naming the parameter just past each documented bound."""
    document = await _document(client)
    path = "/api/booklets/{booklet_id}/entries"
    params = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
    assert params["booklet_id"]["in"] == "path"
    bounds = {name: (params[name]["schema"].get("minimum"), params[name]["schema"].get("maximum"))
              for name in ("since", "before", "limit")}
    assert bounds == {"since": (0, MAX_QUERY_INT), "before": (1, MAX_QUERY_INT),
                      "limit": (0, MAX_PAGE)}
    assert all(params[name]["in"] == "query" and not params[name]["required"]
               for name in bounds)
