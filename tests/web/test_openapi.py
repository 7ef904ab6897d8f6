"""/api/openapi.json documents every route of the app (a route added without docs fails here)."""

from __future__ import annotations

import re
from typing import TypedDict

import msgspec
from aiohttp import web
from aiohttp.test_utils import TestClient

from secure_msg.config import Config
from secure_msg.web.app import create_app
from secure_msg.web.openapi import API_REGISTRY, add_route

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
    # 409 declared; 400/408/413/415/422 from the JSON body, 401 from auth, 404 from the id.
    assert sorted(op["responses"]) == ["201", "400", "401", "404", "408", "409", "413", "415",
                                       "422"]
    assert op["responses"]["404"]["content"]["application/problem+json"]
    assert op["parameters"][0]["name"] == "thing_id"
    assert op["parameters"][0]["schema"]["pattern"] == "^[0-9a-f]{32}$"
    assert op["security"] == [{"bearer": []}]
