"""Document requests in the web inbox: a guardian's "Pyydä lausunto" with a date sends the
request, the therapist sees it in the booklet (and on her desk API), and once her statement
document names it, it is gone from both, for the parent without a reload (Finnish UI, phone
size)."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .harness import (
    PASSWORD,
    World,
    enroll_in_browser,
    local_link,
    login_in_browser,
    open_booklet,
)

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


def test_the_therapist_answers_the_request_with_an_attached_pdf(world: World,
                                                                tmp_path: Path) -> None:
    """The desk flags the booklet; in the write box she picks the request for her PDF; the
    request is done (panel and API) and the mother's neutral notice is queued."""
    issued = world.call(world.t.invite(world.booklet, "guardian", name="Äiti",
                                       phone="+358401112222"))
    parent_context, parent = world.page()
    enroll_in_browser(parent, local_link(world.server, issued["link"]), "aiti")
    open_booklet(parent, world.booklet)
    asked = parent.get_by_role("region", name="Asiakirjapyynnöt")
    asked.get_by_role("button", name="Pyydä lausunto").click()
    expect(asked.locator(".doc-request")).to_contain_text("Lausunto: pyydetty")
    request = world.call(world.t.api.call("GET", "/api/me/document-requests"))["requests"][0]

    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    flagged = page.get_by_role("list", name="Vihkot").get_by_role(
        "link", name=re.compile(r"Asiakirjapyyntö \(1\)"))
    expect(flagged).to_have_count(1)
    open_booklet(page, world.booklet)
    compose = page.locator(".compose")
    answers = compose.get_by_role("combobox", name="Tämä vastaa pyyntöön")
    expect(answers).to_be_hidden()  # no files chosen: nothing to answer with
    (tmp_path / "lausunto.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n")
    with page.expect_file_chooser() as chooser:
        compose.get_by_role("button", name="Liitä tiedostoja").click()
    chooser.value.set_files(tmp_path / "lausunto.pdf")
    expect(answers).to_have_value("")  # "no request" unless she picks one
    option = answers.get_by_role("option", name=re.compile(r"^Lausunto: pyydetty"))
    answers.select_option(label=option.text_content() or "")
    compose.get_by_role("button", name="Lähetä").click()
    # No question about her: her link carried trust, so the roster vouches for her (§6.6).
    entry = page.locator(".entry", has=page.get_by_role("button", name="lausunto.pdf", exact=True))
    expect(entry).to_be_visible()
    mine = page.get_by_role("region", name="Asiakirjapyynnöt")
    expect(mine).to_contain_text("Ei avoimia pyyntöjä.")
    expect(asked).to_contain_text("Ei avoimia pyyntöjä.")  # the mother's, live

    done = world.call(world.t.api.call(
        "GET", f"/api/booklets/{world.booklet}/document-requests?all=1"))["requests"]
    assert [(r["id"], r["status"]) for r in done] == [(request["id"], "done")]
    assert world.call(world.t.api.call("GET", "/api/me/document-requests"))["requests"] == []
    mum = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/members"))["members"]
    mum_id = next(m["account_id"] for m in mum if m["role"] == "guardian")
    with closing(sqlite3.connect(world.server.db_path, timeout=10)) as conn:
        queued = conn.execute("SELECT channel, kind FROM notices WHERE dedupe_key = ?",
                              (f"docreq:{request['id']}:{mum_id}",)).fetchall()
    assert queued == [("sms", "new_entry_ping")], queued
    assert world.errors == []
    context.close()
    parent_context.close()
