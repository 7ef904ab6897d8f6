"""App wiring: security headers, health/readiness, Prometheus metrics, request logging."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from secure_msg.config import Config, with_overrides
from secure_msg.logging import JsonFormatter
from secure_msg.web import ops
from secure_msg.web.app import create_app
from secure_msg.web.middleware import CSP

Client = TestClient[web.Request, web.Application]
TOKEN = "3n6Viqn4ybaA4Mz39t3O9BVF_FzlRZfT17bDB9g1rqE"


@pytest.fixture
async def ops_client(config: Config, aiohttp_client: AiohttpClient,
                     contract: Callable[[web.Application], web.Application]) -> Client:
    return await aiohttp_client(contract(create_app(config, route_setups=[ops.setup_routes])))


async def test_security_headers_on_success_and_error(ops_client: Client) -> None:
    """Every response, errors included, carries the strict CSP and no-store, no referrer."""
    for path, status in (("/healthz", 200), ("/nope", 404)):
        response = await ops_client.get(path)
        assert response.status == status
        assert response.headers["Content-Security-Policy"] == CSP
        assert "default-src 'self'; script-src 'self'; object-src 'none'" in CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in response.headers


async def test_hsts_only_when_public_url_is_https(config: Config,
                                                  aiohttp_client: AiohttpClient) -> None:
    """Behind a TLS proxy (https public URL) responses carry HSTS."""
    cfg = with_overrides(config, server={"public_base_url": "https://msg.example.fi"})
    client = await aiohttp_client(create_app(cfg, route_setups=[ops.setup_routes]))
    response = await client.get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_health_and_readiness(ops_client: Client) -> None:
    """/healthz says the process is up; /readyz that the database answers."""
    assert await (await ops_client.get("/healthz")).json() == {"status": "ok"}
    assert await (await ops_client.get("/readyz")).json() == {"status": "ready"}


async def test_metrics_count_requests_by_route_template(ops_client: Client) -> None:
    """Counters and the latency histogram use route templates, never raw paths."""
    await ops_client.get("/healthz")
    await ops_client.get(f"/enroll/{TOKEN}")
    response = await ops_client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    healthz = {("route", "/healthz"), ("method", "GET"), ("status", "200")}
    assert samples[("secure_msg_http_requests_total", frozenset(healthz))] == 1
    unmatched = {("route", "unmatched"), ("method", "GET"), ("status", "404")}
    assert samples[("secure_msg_http_requests_total", frozenset(unmatched))] == 1
    assert "# TYPE secure_msg_http_request_duration_seconds histogram" in text
    inf = frozenset({("route", "/healthz"), ("le", "+Inf")})
    assert samples[("secure_msg_http_request_duration_seconds_bucket", inf)] == 1
    assert "secure_msg_db_commits_total" in text
    assert TOKEN not in text


async def test_request_log_has_no_query_string_body_or_token(
    ops_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The request log line has method, route template, status; no query, body or token."""
    with caplog.at_level(logging.INFO, logger="secure_msg.request"):
        await ops_client.post(f"/enroll/{TOKEN}?token={TOKEN}&phone=0401234567",
                              data=b"CANARY-body-4711")
        await ops_client.get("/healthz?secret=CANARY-query")
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "secure_msg.request"]
    output = "\n".join(lines)
    for needle in (TOKEN, "CANARY", "0401234567", "secret="):
        assert needle not in output
    last = json.loads(lines[-1])
    assert (last["route"], last["status"], last["method"]) == ("/healthz", 200, "GET")
