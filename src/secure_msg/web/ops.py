"""Operational endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio
import importlib.metadata

from aiohttp import web

from secure_msg.errors import ServiceUnavailable
from secure_msg.web.middleware import METRICS
from secure_msg.web.openapi import API_REGISTRY, add_route
from secure_msg.web.response_types import OpenApiDocument, Status
from secure_msg.web.services import services

READY_TIMEOUT_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    """The process is up and its event loop answers; says nothing about dependencies."""
    answer: Status = {"status": "ok"}
    return web.json_response(answer)


async def readyz(request: web.Request) -> web.Response:
    """The database answers a query: the load balancer may send traffic."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            ok = await services(request).db.ping()
    except (TimeoutError, RuntimeError, OSError):
        ok = False
    if not ok:
        raise ServiceUnavailable("The database does not answer.")
    answer: Status = {"status": "ready"}
    return web.json_response(answer)


async def metrics(request: web.Request) -> web.Response:
    await request.app[METRICS].refresh()
    response = web.Response(body=request.app[METRICS].render().encode())
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response


async def openapi(request: web.Request) -> web.Response:
    cfg = services(request).config
    document = request.app[API_REGISTRY].document(
        title="secure-msg", version=_version(), server_url=cfg.server.public_base_url
    )
    return web.json_response(document)


def _version() -> str:
    try:
        return importlib.metadata.version("secure-msg")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def setup_routes(app: web.Application) -> None:
    add_route(app, "GET", "/healthz", healthz, summary="Liveness: the process is up",
              response=Status, tags=["operations"])
    add_route(app, "GET", "/readyz", readyz, summary="Readiness: the database answers",
              response=Status, errors=(503,), tags=["operations"])
    add_route(app, "GET", "/metrics", metrics, summary="Prometheus metrics (text format 0.0.4)",
              response={"type": "string"}, response_type="text/plain", tags=["operations"])
    add_route(app, "GET", "/api/openapi.json", openapi, summary="This OpenAPI 3.1 document",
              response=OpenApiDocument, tags=["operations"])
