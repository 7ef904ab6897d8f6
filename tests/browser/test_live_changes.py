"""An open page follows what changes besides new entries (issue 16): a history grant brings the
title and earlier entries, a family's cancellation reaches the therapist's open booklet, and a
device whose session was ended elsewhere says why on its login screen."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from secure_msg.client import Client, Profile

from .harness import PARENT_PASSWORD, PASSWORD, World, login_in_browser, open_booklet
from .test_appointments import appointments, schedule

pytestmark = pytest.mark.slow

HOUR = 3_600_000


def _parent(world: World, login: str) -> Client:
    """A guardian enrolled with the Python client (her "other device"), by a plain link (as
    the server texts it): she sees the title only once the therapist shares it."""
    assert world.http is not None
    parent = Client(Profile(), world.http)
    world.call(parent.enroll(world.invite(login.title(), via=None), login, PARENT_PASSWORD))
    return parent


def test_a_grant_titles_the_open_page_and_shows_earlier_entries(world: World) -> None:
    """A guardian's open page is untitled and empty until the therapist shares the history;
    then the child's name and the earlier entry appear without a reload."""
    world.call(world.t.post(world.booklet, "note", text="Ennen liittymistä"))
    parent = _parent(world, "aiti")
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "aiti")
    open_booklet(page, world.booklet)
    page.locator("html[data-live='ready']").wait_for()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Vihko (nimeä ei ole vielä jaettu sinulle)")
    world.call(world.t.grant_history(world.booklet, parent.profile.account_id))
    expect(heading).to_have_text("Aino")
    expect(page.locator(".entry-note .text")).to_have_text(["Ennen liittymistä"])
    context.close()


def test_a_grant_titles_the_booklet_in_the_open_inbox(world: World) -> None:
    """The inbox lists the booklet untitled until the history is shared, then by its name,
    without a reload."""
    parent = _parent(world, "isa")
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "isa")
    page.locator("html[data-live='ready']").wait_for()
    title = page.locator(f"[data-booklet='{world.booklet}'] .booklet-title")
    expect(title).to_have_text("Vihko (nimeä ei ole vielä jaettu sinulle)")
    world.call(world.t.grant_history(world.booklet, parent.profile.account_id))
    expect(title).to_have_text("Aino")
    context.close()


def test_the_therapist_sees_a_familys_cancellation_live(world: World) -> None:
    """The therapist's open booklet shows a guardian's cancellation as it happens."""
    parent = _parent(world, "isa")
    appt = schedule(world, int(time.time() * 1000) + 72 * HOUR)
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    page.locator("#appointments-hook[data-ready='true']").wait_for()
    page.locator("html[data-live='ready']").wait_for()
    item = page.locator(f"[data-appointment='{appt['id']}'] .appt-status")
    expect(item).to_have_text("Varattu")
    world.call(parent.api.call(
        "POST", f"/api/booklets/{world.booklet}/appointments/{appt['id']}/cancel"))
    assert appointments(world)[appt["id"]]["status"] == "cancelled_by_family"
    expect(item).to_have_text(re.compile("^Peruttu"), timeout=3000)
    context.close()


@pytest.mark.parametrize(("how", "message"), [
    ("password", "Salasanasi vaihdettiin toisella laitteella, joten tämä laite kirjattiin ulos."),
    ("recovery", "Tunnuksesi palautettiin palautusavaimella"),
])
def test_the_old_device_says_why_it_was_logged_out(world: World, how: str, message: str) -> None:
    """A password change or a recovery elsewhere logs the open browser out at once, and its
    login screen says why."""
    assert world.http is not None
    parent = Client(Profile(), world.http)
    recovery_key = world.call(parent.enroll(world.invite("Äiti"), "aiti", PARENT_PASSWORD))
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "aiti")
    page.locator("html[data-live='ready']").wait_for()
    if how == "password":
        world.call(parent.change_password(PARENT_PASSWORD, "uusi salasana 2026"))
    else:
        world.call(Client(Profile(), world.http).recover(
            world.server.base_url, "aiti", recovery_key, "palautettu salasana 2026"))
    expect(page.get_by_role("heading", name="Kirjaudu")).to_be_visible(timeout=5000)
    expect(page.get_by_role("status").filter(has_text=message)).to_be_visible()
    context.close()
