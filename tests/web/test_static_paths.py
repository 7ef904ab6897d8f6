"""A static path the file system refuses is a 404 problem, never a 500 (found by the fuzzer).

A NUL byte (Path.resolve raises ValueError) and a name longer than the file system's 255 bytes
(stat raises ENAMETOOLONG) reached the handler's file checks and came back as 500 with an ERROR
traceback in the log.
"""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


@pytest.mark.parametrize("path", [
    "/static/%00",
    "/static/app%00.css",
    "/static/" + "a" * 300 + ".css",
    "/static/app/" + "%CC%B5" * 200 + ".mjs",  # 400 bytes of combining marks: one long name
])
async def test_a_path_the_file_system_refuses_is_not_found(
    client: Client, path: str, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await client.get(path)
        body = await response.json(content_type="application/problem+json")
    assert response.status == 404
    assert body["type"] == "not-found"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_files_that_exist_are_still_served(client: Client) -> None:
    response = await client.get("/static/app.css")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
