"""The access log panel in Chromium at phone size: a guardian sees the caregiver's read by name
(Finnish), downloads the log as CSV, and the download is itself in the log."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from secure_msg.client import Client, Profile

from .harness import PARENT_PASSWORD, World, enroll_in_browser, local_link, open_booklet

pytestmark = pytest.mark.slow


def test_a_guardian_reads_and_downloads_the_access_log(world: World, tmp_path: Path) -> None:
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    issued = world.call(world.t.invite(world.booklet, "caregiver", name="Päiväkoti",
                                       until="2099-03-31", scope="history"))
    assert world.http is not None
    carer = Client(Profile(), world.http)
    world.call(carer.enroll(local_link(world.server, issued["link"]), "paivakoti",
                            PARENT_PASSWORD))
    # The only guardian approves in the browser (§5.1): then the caregiver is a member.
    open_booklet(page, world.booklet)
    request = page.locator(f".consent-row[data-caregiver='{carer.profile.account_id}']")
    request.get_by_role("button", name="Hyväksy").click()
    expect(request).to_have_attribute("data-status", "active")
    world.call(world.t.grant_history(world.booklet, carer.profile.account_id))
    assert [e.seq for e in world.call(carer.read(world.booklet))] == [1]

    page.reload()  # the booklet's view again, its log read afresh
    page.locator("main[data-ready='true']").wait_for()
    panel = page.locator("details.access-log")
    panel.get_by_role("heading", name="Käyttöloki").click()
    read = panel.locator(".access-item[data-action='entries.fetched']", has_text="Päiväkoti")
    expect(read).to_contain_text("luki 1 merkintää (1)")
    expect(panel.locator(".access-item[data-action='member.joined']", has_text="Päiväkoti")
           ).to_contain_text("liittyi: hoitaja, kutsuja Tiina T")
    expect(panel.locator(".access-item[data-action='consent.approved']")).to_contain_text(
        "hyväksyi jäsenen Päiväkoti päiväkodin tai koulun jäseneksi")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width  # readable on a phone: no sideways scrolling

    with page.expect_download() as download:
        panel.get_by_role("button", name="Lataa CSV").click()
    saved = tmp_path / "loki.csv"
    download.value.save_as(saved)
    text = saved.read_bytes().decode("utf-8")
    assert text.startswith("at,who,action,what,actor_id,chain_seq,hash\r\n")
    assert "Päiväkoti,entries.fetched,luki 1 merkintää (1)" in text
    expect(panel.locator(".access-item").first).to_contain_text("latasi käyttölokin")
    context.close()
