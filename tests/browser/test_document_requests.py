"""Document requests in the web inbox: a guardian's "Pyydä lausunto" with a date sends the
request, the therapist sees it in the booklet (and on her desk API), and once her statement
document names it, it is gone from both, for the parent without a reload (Finnish UI, phone
size)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import PASSWORD, World, enroll_in_browser, login_in_browser, open_booklet

pytestmark = pytest.mark.slow


def test_a_guardian_asks_and_the_therapist_sees_it(world: World) -> None:
    parent_context, parent = world.page()
    enroll_in_browser(parent, world.invite("Äiti"), "aiti")
    open_booklet(parent, world.booklet)
    panel = parent.locator(".doc-requests")
    expect(panel).to_contain_text("Asiakirjapyynnöt")
    expect(panel).to_contain_text("Ei avoimia pyyntöjä.")
    panel.get_by_label("Tarvitaan viimeistään").fill("2030-02-15")
    panel.get_by_role("button", name="Pyydä lausunto").click()
    expect(panel.locator(".doc-request")).to_contain_text(
        "Lausunto: pyydetty")
    expect(panel.locator(".doc-request")).to_contain_text("tarvitaan 15.2.2030 mennessä")

    desk = world.call(world.t.api.call("GET", "/api/me/document-requests"))["requests"]
    assert [(r["booklet_id"], r["kind"], r["due"]) for r in desk] == [
        (world.booklet, "statement", "2030-02-15")]

    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    mine = page.locator(".doc-requests")
    expect(mine.locator(".doc-request")).to_contain_text("tarvitaan 15.2.2030 mennessä")
    expect(mine).to_contain_text("Vastaa lähettämällä asiakirja")
    expect(mine.get_by_role("button", name="Pyydä lausunto")).to_be_hidden()

    world.call(world.t.post(world.booklet, "document", name="lausunto.pdf",
                            media_type="application/pdf", data="JVBERi0xLjQK",
                            fulfils_request=desk[0]["id"]))
    page.reload()
    page.locator("main[data-ready='true']").wait_for()
    expect(page.locator(".doc-requests")).to_contain_text("Ei avoimia pyyntöjä.")
    # The parent did not reload: the new entry's live event read the requests again.
    expect(parent.locator(".doc-requests")).to_contain_text("Ei avoimia pyyntöjä.")
    assert world.call(world.t.api.call("GET", "/api/me/document-requests"))["requests"] == []
    assert world.errors == []
    context.close()
    parent_context.close()
