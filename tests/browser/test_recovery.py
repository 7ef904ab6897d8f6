"""Logout forgets keys and token; a lost password is replaced with the recovery key, the history
is still readable, and the new password works in a fresh browser (the old one does not)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import PARENT_PASSWORD, World, enroll_in_browser, login_in_browser, open_booklet

pytestmark = pytest.mark.slow
NOTE = "Muistakaa ottaa sisäkengät mukaan."
NEW_PASSWORD = "uusi salasana sininen polkupyörä"


def test_logout_then_recover_with_the_key_and_log_in_with_the_new_password(world: World) -> None:
    context, page = world.page()
    recovery_key = enroll_in_browser(page, world.invite("Isä"), "isa")
    parent_id = next(m.account_id for m in world.call(world.t.members(world.booklet))
                     if m.role == "guardian")
    world.call(world.t.grant_history(world.booklet, parent_id))
    world.call(world.t.post(world.booklet, "note", text=NOTE))
    page.reload()
    open_booklet(page, world.booklet)
    expect(page.locator(".entry-note .text")).to_have_text([NOTE])
    booklet_url = page.url

    page.get_by_role("button", name="Kirjaudu ulos").click()
    page.get_by_role("heading", name="Kirjaudu").wait_for()
    assert page.evaluate("() => localStorage.getItem('secure-msg:session')") is None
    page.reload()  # nothing left to restore: the login screen, even for the booklet's address
    page.get_by_role("heading", name="Kirjaudu").wait_for()
    page.goto(booklet_url)
    page.get_by_role("heading", name="Kirjaudu").wait_for()
    expect(page.locator(".entry-note")).to_have_count(0)

    page.get_by_role("link", name="Unohtuiko salasana? Käytä palautusavainta").click()
    page.get_by_role("heading", name="Palauta tunnus").wait_for()
    page.get_by_label("Käyttäjätunnus").fill("isa")
    page.get_by_label("Palautusavain").fill(recovery_key.lower().replace("-", " "))  # forgiving
    page.get_by_label("Uusi salasana").fill(NEW_PASSWORD)
    page.get_by_label("Salasana uudelleen").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Aseta uusi salasana").click()
    # the booklet's address, opened signed out, survives the recovery
    page.locator("main[data-ready='true']").wait_for(timeout=60_000)
    assert page.url == booklet_url
    expect(page.locator(".entry-note .text")).to_have_text([NOTE])
    context.close()

    fresh, page2 = world.page()  # the old password no longer opens anything
    page2.goto(world.server.base_url + "/")
    page2.get_by_label("Käyttäjätunnus").fill("isa")
    page2.get_by_label("Salasana", exact=True).fill(PARENT_PASSWORD)
    page2.get_by_role("button", name="Kirjaudu", exact=True).click()
    expect(page2.get_by_role("alert")).to_have_text("Käyttäjätunnus tai salasana ei ole oikein.")
    fresh.close()
    expected = "console: Failed to load resource: the server responded with a status of 401"
    assert sum(e.startswith(expected) for e in world.errors) == 1, world.errors  # that refusal
    world.errors[:] = [e for e in world.errors if not e.startswith(expected)]

    other, page3 = world.page()
    login_in_browser(page3, world.server.base_url, "isa", NEW_PASSWORD)
    open_booklet(page3, world.booklet)
    expect(page3.locator(".entry-note .text")).to_have_text([NOTE])
    other.close()
