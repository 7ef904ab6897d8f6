"""Every error is RFC 9457 problem+json with a stable type; bugs are a bare 500 (invariant 7)."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient

from secure_msg.config import Config, with_overrides
from secure_msg.errors import Conflict, RateLimited, SecureMsgError, ValidationFailed
from secure_msg.storage import audit as audit_store
from secure_msg.web import ops
from secure_msg.web.app import create_app
from secure_msg.web.openapi import add_route
from secure_msg.web.services import SERVICES, services

Client = TestClient[web.Request, web.Application]
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def _write_then(error: Exception | None) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        await request.read()  # enforces client_max_size before anything changes
        if error is not None:
            raise error
        await services(request).db.write(lambda c: audit_store.append_audit_txn(
            c, at_ms=1, actor="system", action="test.write"))
        return web.json_response({"ok": True}, status=201)

    return handler


def _test_routes(app: web.Application) -> None:
    add_route(app, "POST", "/t/ok", _write_then(None), summary="writes", status=201)
    add_route(app, "POST", "/t/conflict", _write_then(Conflict("Sequence 4 is taken.")),
              summary="conflict", errors=[409])
    add_route(app, "POST", "/t/invalid",
              _write_then(ValidationFailed("Check the fields.", errors=[{"field": "kind"}])),
              summary="invalid", errors=[422])
    add_route(app, "POST", "/t/slow-down", _write_then(RateLimited(30)), summary="rate",
              errors=[429])
    add_route(app, "POST", "/t/bug", _write_then(KeyError("secret_internal_state")),
              summary="bug")
    add_route(app, "POST", "/t/internal",
              _write_then(SecureMsgError("db row 17 of /var/x is corrupt")), summary="broken")


@pytest.fixture
async def small_client(config: Config, aiohttp_client: AiohttpClient) -> Client:
    cfg = with_overrides(config, limits={"max_request_bytes": 4096, "max_entry_bytes": 2048})
    return await aiohttp_client(create_app(cfg, route_setups=[ops.setup_routes, _test_routes]))


async def _events(client: Client) -> int:
    return len(await client.app[SERVICES].db.read(audit_store.list_events_txn))


async def test_problem_shape_is_pinned(small_client: Client) -> None:
    """A domain error renders exactly type/title/status/detail/instance as problem+json."""
    response = await small_client.post("/t/conflict?token=abc", data=b"{}")
    assert response.status == 409
    assert response.content_type == "application/problem+json"
    assert await response.json() == {
        "type": "conflict",
        "title": "The request conflicts with the current state",
        "status": 409,
        "detail": "Sequence 4 is taken.",
        "instance": "/t/conflict",
    }
    assert await _events(small_client) == 0


async def test_extensions_and_headers_are_kept(small_client: Client) -> None:
    """Validation errors carry `errors`; rate limiting carries Retry-After."""
    invalid = await small_client.post("/t/invalid", data=b"{}")
    body = await invalid.json()
    assert (invalid.status, body["type"], body["errors"]) == (422, "validation-failed",
                                                              [{"field": "kind"}])
    limited = await small_client.post("/t/slow-down", data=b"{}")
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "30"
    assert (await limited.json())["type"] == "rate-limited"
    assert await _events(small_client) == 0


@pytest.mark.parametrize(
    ("method", "path", "status", "type_"),
    [("GET", "/no/such/route", 404, "not-found"),
     ("DELETE", "/healthz", 405, "method-not-allowed")],
)
async def test_aiohttp_errors_become_problems(
    small_client: Client, method: str, path: str, status: int, type_: str
) -> None:
    """Unknown routes and wrong methods are problem+json too, not aiohttp's text pages."""
    response = await small_client.request(method, path)
    assert response.status == status
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert set(body) == PROBLEM_KEYS
    assert body["type"] == type_
    if status == 405:
        assert "GET" in response.headers["Allow"]


async def test_oversized_body_is_413_and_changes_nothing(small_client: Client) -> None:
    """A body over max_request_bytes gets payload-too-large; the handler's write never runs."""
    response = await small_client.post("/t/ok", data=b"x" * 5000)
    assert response.status == 413
    body = await response.json()
    assert body["type"] == "payload-too-large"
    assert await _events(small_client) == 0
    assert (await small_client.post("/t/ok", data=b"x" * 100)).status == 201


@pytest.mark.parametrize("path", ["/t/bug", "/t/internal"])
async def test_unexpected_errors_are_a_bare_500(
    small_client: Client, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """Bugs answer a generic 500 with no internal detail; the traceback goes to the log only."""
    with caplog.at_level(logging.ERROR):
        response = await small_client.post(path, data=b"{}")
    assert response.status == 500
    text = await response.text()
    assert "secret_internal_state" not in text
    assert "corrupt" not in text
    assert "Traceback" not in text
    assert await response.json() == {"type": "internal", "title": "Internal server error",
                                     "status": 500, "detail": "Internal server error",
                                     "instance": path}
    assert any(record.exc_info for record in caplog.records)
    assert await _events(small_client) == 0


def test_every_error_class_has_a_unique_stable_code() -> None:
    """Codes are unique across the tree, so clients can branch on `type`.

    A class that inherits its parent's code (KeysExist, VaultError) is the same problem on the
    wire, a finer type for the code only; every class that declares a code declares a new one.
    """
    seen: dict[str, type] = {}
    stack: list[type[SecureMsgError]] = [SecureMsgError]
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.__module__ == "secure_msg.errors" and "code" in vars(cls):
            assert cls.code not in seen or seen[cls.code] is cls, cls
            seen[cls.code] = cls
