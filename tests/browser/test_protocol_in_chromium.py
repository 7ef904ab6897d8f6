"""The JavaScript protocol tests of tests/js run in Chromium on the modules the app serves."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route

from secure_msg.testing.server_process import ServerProcess
from secure_msg.web.middleware import CSP

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SHIMS = Path(__file__).parent / "js"
# vectors and file-vectors: every project vector; the others: round trips, key checks and hardening.
SUITES = ["vectors.test.mjs", "roundtrip.test.mjs", "keys.test.mjs", "hardening.test.mjs",
          "file-vectors.test.mjs", "file-stream.test.mjs", "share-vectors.test.mjs"]
JSON_FILES = {"tests/vectors/protocol-v1.json", "tests/vectors/file-v1.json",
              "tests/vectors/share-v1.json", "tests/js/ed25519-points.json"}


def _rewrite(source: str) -> str:
    """Node-only imports become the browser shims; the crypto modules come from the app."""
    source = source.replace("'../../src/secure_msg/web/static/crypto/", "'/static/crypto/")
    source = source.replace("'node:assert/strict'", "'/__js__/shim/assert.mjs'")
    source = source.replace("'node:test'", "'/__js__/shim/test.mjs'")
    return re.sub(r"'\./helpers\.mjs'", "'/__js__/shim/helpers.mjs'", source)


def _serve(route: Route) -> None:
    path = route.request.url.split("/__js__/", 1)[1]
    if path == "runner.html":
        route.fulfill(status=200, body="<!doctype html><title>protocol tests</title>",
                      content_type="text/html", headers={"Content-Security-Policy": CSP})
        return
    elif path.startswith("shim/"):
        body, kind = (SHIMS / path.removeprefix("shim/")).read_text(), "text/javascript"
    elif path.startswith("suite/") and path.removeprefix("suite/") in SUITES:
        body = _rewrite((REPO / "tests" / "js" / path.removeprefix("suite/")).read_text())
        kind = "text/javascript"
    elif path.startswith("repo/") and path.removeprefix("repo/") in JSON_FILES:
        body, kind = (REPO / path.removeprefix("repo/")).read_text(), "application/json"
    else:
        route.fulfill(status=404)
        return
    route.fulfill(status=200, body=body, content_type=kind)


def test_protocol_vectors_and_js_tests_pass_inside_chromium(
    server_factory: Callable[..., ServerProcess], browser: Browser,
) -> None:
    """Every test of the Node suites (the v1 vectors among them) passes in Chromium, with the
    crypto modules loaded from the running app under its CSP."""
    server = server_factory()
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/__js__/**", _serve)
    page.goto(server.url("/__js__/runner.html"))
    imports = ", ".join(f"import('/__js__/suite/{s}')" for s in SUITES)
    results = page.evaluate(
        f"async () => {{ await Promise.all([{imports}]);"
        " return (await import('/__js__/shim/test.mjs')).run(); }")
    context.close()
    failed = [r for r in results if not r["ok"]]
    names = [r["name"] for r in results]
    assert errors == []
    assert failed == []
    assert any(n.startswith("account ") for n in names)
    assert sum(n.startswith("file blob ") for n in names) >= 40  # file-v1.json ran too
    assert sum(n.startswith("share ") for n in names) >= 20  # and share-v1.json
    assert len(names) > 40, len(names)
