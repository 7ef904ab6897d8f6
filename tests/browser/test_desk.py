"""The therapist's desk (issue 16): the caseload with decrypted child names, next session, period
and flags; a search by name on the device; today's and this week's sessions; the list beside the
open booklet on a desktop, separate screens on a phone.

A family's cancellation sends no live event (web/live.py carries entries only): its flag shows
when the desk next loads its list (on any entry event, on focus, once a minute, or a reload);
a family's message moves the list's unread count live."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from secure_msg.client import Client, Profile

from .harness import PARENT_PASSWORD, PASSWORD, World, local_link, login_in_browser
from .test_appointments import HOUR, iso, set_up_period

pytestmark = pytest.mark.slow
DESKTOP = {"width": 1280, "height": 800}


def _schedule(world: World, booklet: str, start_ms: int) -> dict:
    result: dict = world.call(world.t.api.call(
        "POST", f"/api/booklets/{booklet}/appointments",
        {"start": iso(start_ms), "duration_minutes": 45}))
    return result


def _caseload(world: World) -> tuple[str, str, dict, Client]:
    """Aino (a period, a session today), Bertta (a session in three days, a guardian), Eemeli."""
    aino = world.booklet
    bertta = world.call(world.t.create_booklet("Bertta"))
    world.call(world.t.create_booklet("Eemeli"))
    set_up_period(world, attended=3, granted=40)  # Aino's
    now = int(time.time() * 1000)
    _schedule(world, aino, now + 120_000)  # today (unless run in the last minutes before midnight)
    friday = _schedule(world, bertta, now + 3 * 24 * HOUR)
    assert world.http is not None
    issued = world.call(world.t.invite(bertta, "guardian", name="Äiti"))
    mum = Client(Profile(), world.http)
    world.call(mum.enroll(local_link(world.server, issued["link"]), "aiti", PARENT_PASSWORD))
    return aino, bertta, friday, mum


def test_the_desk_lists_searches_and_flags_the_caseload(world: World) -> None:
    _, bertta, friday, mum = _caseload(world)
    context = world.browser.new_context(viewport=DESKTOP, locale="fi-FI")  # type: ignore[arg-type]
    page = context.new_page()
    page.on("pageerror", lambda exc: world.errors.append(f"pageerror: {exc}"))
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    caseload = page.get_by_role("list", name="Vihkot")
    links = caseload.get_by_role("link")
    expect(links).to_have_count(3)
    expect(links.nth(0)).to_have_accessible_name(re.compile(
        r"^Aino\W+(?:ei lukemattomia|\d+ lukematonta merkintää)\W+"
        r"Seuraava käynti .+ · Jakso 3/40$"))
    expect(links.nth(1)).to_have_accessible_name(re.compile(r"^Bertta\W.*Seuraava käynti "))
    expect(links.nth(2)).to_have_accessible_name(re.compile(r"^Eemeli\W.*Ei varattuja käyntejä$"))
    expect(page.get_by_role("status").filter(has_text="3 vihkoa")).to_be_visible()

    today = page.get_by_role("region", name="Tänään")
    expect(today.get_by_role("link", name="Aino")).to_be_visible()
    week = page.get_by_role("region", name="Tällä viikolla")
    expect(week.get_by_role("link", name="Bertta")).to_be_visible()
    expect(week.get_by_role("link", name="Aino")).to_have_count(0)

    search = page.get_by_role("searchbox", name="Hae lapsen nimellä")
    search.fill("ber")
    expect(links).to_have_count(1)
    expect(links.first).to_contain_text("Bertta")
    expect(page.get_by_role("status").filter(has_text="1/3 vihkoa")).to_be_visible()
    search.fill("x")
    expect(links).to_have_count(0)
    expect(page.get_by_text("Haulla ei löytynyt vihkoja.")).to_be_visible()
    search.fill("")
    expect(links).to_have_count(3)

    # List and pane: the booklet opens beside the list, which stays, marking the open one.
    links.nth(0).click()
    page.locator("main[data-ready='true']").wait_for()
    expect(page.get_by_role("heading", level=1, name="Aino")).to_be_visible()
    expect(links).to_have_count(3)
    expect(caseload.locator("a[aria-current='page']")).to_contain_text("Aino")

    # The family cancels; the flag is there on the next load of the list.
    world.call(mum.api.call("POST", f"/api/booklets/{bertta}/appointments/{friday['id']}/cancel"))
    page.reload()
    page.locator("main[data-ready='true']").wait_for()
    expect(links.nth(1)).to_have_accessible_name(re.compile(
        r"^Bertta\W.*Ei varattuja käyntejä\W+Perhe perui käynnin \(1\)$"))
    expect(caseload.get_by_text("Perhe perui käynnin (1)")).to_be_visible()
    expect(page.get_by_role("region", name="Tällä viikolla")).to_have_count(0)  # a booklet is open

    # A family's message reaches the open desk live: the list's unread count moves, no reload,
    # and the focus stays on the link it was on.
    page.locator("html[data-live='ready']").wait_for()
    before = re.search(r"(\d+) lukematonta", links.nth(1).text_content() or "")
    unread = int(before.group(1)) if before else 0
    links.nth(1).focus()  # a keyboard user on the list keeps her place when it is drawn again
    world.call(mum.post(bertta, "note", text="Kiitos, ensi viikolla sitten!"))
    expect(links.nth(1)).to_have_accessible_name(
        re.compile(rf"^Bertta\W+{unread + 1} lukematonta merkintää"))
    expect(links.nth(1)).to_be_focused()
    context.close()
    _phone(world)


def _phone(world: World) -> None:
    """A phone: the list is its own screen, today's sessions first, and a booklet replaces it."""
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    expect(page.get_by_role("heading", level=1, name="Vihkot")).to_be_visible()
    today = page.get_by_role("region", name="Tänään")
    expect(today.get_by_role("link", name="Aino")).to_be_visible()
    page.get_by_role("list", name="Vihkot").get_by_role("link").nth(1).click()
    page.locator("main[data-ready='true']").wait_for()
    expect(page.get_by_role("heading", level=1, name="Bertta")).to_be_visible()
    expect(page.get_by_role("list", name="Vihkot")).to_have_count(0)
    context.close()
