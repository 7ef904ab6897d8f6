"""Decrypted text is only ever text; the CSP is on every response; pages carry no inline code;
a changed identity key blocks the booklet until it is verified again."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from secure_msg.web.middleware import CSP

from .harness import PASSWORD, World, enroll_in_browser, login_in_browser, open_booklet

pytestmark = pytest.mark.slow
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.__pwned = 1; alert(2)</script>"
INDEX = Path(__file__).resolve().parents[2] / "src/secure_msg/web/static/index.html"


def _headers(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (local test server)
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def test_hostile_entries_render_as_text_and_run_nothing(world: World) -> None:
    """Notes and homework whose text is HTML show that text literally: no element, no script,
    no dialog."""
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    world.call(world.t.post(world.booklet, "note", text=IMG))
    world.call(world.t.post(world.booklet, "homework", task=SCRIPT, frequency=IMG, text=SCRIPT))
    page.reload()
    open_booklet(page, world.booklet)
    expect(page.locator(".entry-note .text")).to_have_text(IMG)
    expect(page.locator(".task h3")).to_have_text(SCRIPT)
    expect(page.locator(".task .text")).to_have_text(SCRIPT)
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.wait_for_timeout(300)
    context.close()  # the world fixture fails the test on any dialog or page error


def test_every_response_carries_the_csp_and_pages_hold_no_inline_code(world: World) -> None:
    """The HTML, the modules, the stylesheet and API errors all carry the strict CSP; the page
    has no inline script, style element, style attribute or event-handler attribute."""
    for path in ("/", "/enroll/abc", "/static/app/main.mjs", "/static/app.css",
                 "/static/crypto/index.mjs", "/api/booklets", "/static/nope.mjs"):
        status, headers = _headers(world.server.url(path))
        assert headers.get("Content-Security-Policy") == CSP, path
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        assert status in (200, 401, 404), path
    html = INDEX.read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert not re.search(r"\sstyle=|\son\w+=", html)
    status, _ = _headers(world.server.url("/static/../../pyproject.toml"))
    assert status == 404


def test_changed_identity_key_blocks_until_verified(world: World) -> None:
    """When a member's identity key differs from the pinned one, the booklet is replaced by a
    warning; comparing the safety number and marking it verified lets the booklet open again."""
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    me = page.evaluate("JSON.parse(localStorage.getItem('secure-msg:session')).account.id")
    enroll_link = world.invite("Äiti")
    other, parent = world.page()
    enroll_in_browser(parent, enroll_link, "aiti")
    other.close()
    open_booklet(page, world.booklet)
    parent_id = page.locator(".member[data-member]").nth(1).get_attribute("data-member")
    page.evaluate("""([me, id]) => {
        const key = 'secure-msg:pins:' + me;
        const pins = JSON.parse(localStorage.getItem(key));
        pins[id] = {ik: '11'.repeat(32), verified: true};
        localStorage.setItem(key, JSON.stringify(pins));
    }""", [me, parent_id])
    page.reload()
    page.locator("main[data-ready='true']").wait_for()
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("Turva-avain on vaihtunut")
    assert page.locator(".compose").count() == 0
    assert page.locator(".timeline").count() == 0
    page.get_by_role("link", name="Vertaa uutta turvanumeroa").click()
    digits = page.locator(".digits li")
    expect(digits).to_have_count(12)
    assert all(re.fullmatch(r"\d{5}", d) for d in digits.all_text_contents())
    page.get_by_role("button", name="Numerot täsmäävät: merkitse varmennetuksi").click()
    expect(page.get_by_role("status").filter(has_text="Olet varmentanut")).to_be_visible()
    page.get_by_role("link", name="Takaisin vihkoihin").click()
    page.goto(world.server.url(f"/#/b/{world.booklet}"))
    page.locator("main[data-ready='true']").wait_for()
    expect(page.locator(".compose")).to_be_visible()
    context.close()
