"""Closing a booklet in the web inbox: the therapist's "Sulje vihko" asks first (cancel keeps
it open), then the booklet is read-only for everyone: a banner with the deletion date, no
write box, no close button; the server agrees, and a parent who has it open sees it turn
read-only at once (the live event)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import PASSWORD, World, enroll_in_browser, login_in_browser, open_booklet

pytestmark = pytest.mark.slow


def test_therapist_closes_after_confirming_and_the_booklet_turns_read_only(
    world: World,
) -> None:
    parent_link = world.invite("Äiti")
    parent_context, parent = world.page()
    enroll_in_browser(parent, parent_link, "aiti")
    open_booklet(parent, world.booklet)
    expect(parent.get_by_label("Kirjoita viesti")).to_be_visible()
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    expect(page.get_by_label("Kirjoita viesti")).to_be_visible()
    expect(page.locator(".closed-banner")).to_be_hidden()

    close = page.get_by_role("button", name="Sulje vihko")
    close.click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text("Suljetaanko vihko?")
    expect(question).to_contain_text("Sulkemista ei voi perua")
    question.get_by_role("button", name="Peruuta").click()
    expect(question).to_have_count(0)
    lifecycle = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/lifecycle"))
    assert lifecycle["status"] == "open"

    close.click()
    page.get_by_role("alertdialog").get_by_role("button", name="Kyllä, sulje vihko").click()
    banner = page.locator(".closed-banner")
    expect(banner).to_contain_text("Vihko on suljettu")
    lifecycle = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/lifecycle"))
    assert lifecycle["status"] == "closed"
    purge = lifecycle["purge_after"][:10].split("-")
    expect(banner).to_contain_text(f"Tallenna se ennen {int(purge[2])}.{int(purge[1])}.{purge[0]}")
    expect(page.get_by_label("Kirjoita viesti")).to_be_hidden()
    expect(page.get_by_role("button", name="Sulje vihko")).to_have_count(0)

    # The parent did not reload: the live event made the open view read the booklet again.
    expect(parent.locator(".closed-banner")).to_contain_text("Vihkoa voi vain lukea")
    expect(parent.get_by_label("Kirjoita viesti")).to_be_hidden()
    context.close()
    parent_context.close()
