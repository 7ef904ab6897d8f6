"""The fuzz run's checks find what they are there to find (test_api_fuzz.py passing means
something only if they do).

A small app, documented by the project's own `add_route` as the real document is (every status
listed, no `default` response), has one defect per check: a 500, an undocumented status, a body
outside its schema, a content type other than the documented one. The same Schemathesis run as
test_api_fuzz.py must report each of them on its operation, and nothing on a correct one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from secure_msg.web.openapi import API_REGISTRY, ApiRegistry, add_route

from .runner import run_schemathesis

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

COUNT = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("planted")


async def teapot(request: web.Request) -> web.Response:
    return web.json_response({"n": 1}, status=418)


async def wrong_shape(request: web.Request) -> web.Response:
    return web.json_response({"n": "one"})


async def wrong_type(request: web.Request) -> web.Response:
    return web.Response(text="n=1", content_type="text/html")


async def correct(request: web.Request) -> web.Response:
    return web.json_response({"n": 1})


def planted_app() -> web.Application:
    app = web.Application()
    app[API_REGISTRY] = ApiRegistry()
    for path, handler in (("/crash", crash), ("/teapot", teapot), ("/shape", wrong_shape),
                          ("/type", wrong_type), ("/correct", correct)):
        add_route(app, "GET", path, handler, summary=path, response=COUNT, errors=(404,))

    async def document(request: web.Request) -> web.Response:
        return web.json_response(app[API_REGISTRY].document(
            title="planted", version="1", server_url=f"http://{request.host}"))

    app.router.add_get("/api/openapi.json", document)
    return app


@pytest.fixture
async def planted() -> AsyncIterator[str]:
    runner = web.AppRunner(planted_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


def _world(base_url: str, path: Path) -> Path:
    world: dict[str, Any] = {"base_url": base_url, "token": "unused", "spare_tokens": [],
                             "route_tokens": {}, "path": {}, "route_path": {}, "body": {}}
    path.write_text(json.dumps(world), encoding="utf-8")
    return path


async def test_each_check_reports_its_planted_defect(planted: str, tmp_path: Path) -> None:
    run = await run_schemathesis(planted, _world(planted, tmp_path / "world.json"), tmp_path)
    found = {(group["type"], operation) for group in run.report["failures"]
             for operation in group["operations"]}
    assert found >= {("ServerError", "GET /crash"), ("UndefinedStatusCode", "GET /teapot"),
                     ("JsonSchemaError", "GET /shape"),
                     ("UndefinedContentType", "GET /type")}, run.output[-5000:]
    assert not {operation for _, operation in found} & {"GET /correct"}
    assert run.report["exit_code"] != 0
