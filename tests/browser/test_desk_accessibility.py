"""The therapist's desk screens and the admin's page (issue 16) pass the DOM audit (labels,
accessible names, nothing inline) and axe-core (vendored, injected through `evaluate`, so the
page's strict CSP stays on; 0 violations) in fi, sv and en at phone and desktop size, and show no
raw text key."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from .audit import audit
from .axe import axe
from .harness import (
    PARENT_PASSWORD,
    PASSWORD,
    World,
    admin_invite,
    login_in_browser,
    open_booklet,
    server_sql,
)
from .test_appointments import schedule, set_up_period

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Keys of the strings these screens add (lang-*.mjs): shown raw, a key would match this.
RAW_KEY = re.compile(r"\b(?:appts|appt|sched|mark|move|period|payer|invite|channel|copy|admin|"
                     r"staff|notice|role)_[a-z_]+\b")


def check(page: Page, screen: str) -> list[str]:
    problems = audit(page, screen)
    text = page.locator("main").inner_text()
    problems += [f"{screen}: raw text key {k}" for k in RAW_KEY.findall(text)]
    return problems + axe(page, screen)


def _switch(page: Page, code: str, brand: str) -> None:
    """Switch language and wait until the old screen is gone: a ready marker still on it would let
    axe run on a half-drawn page (as Walk.lang in test_axe.py)."""
    page.evaluate("() => document.querySelectorAll('main > *')"
                  ".forEach((e) => e.setAttribute('data-stale', ''))")
    page.locator(f"button.lang[lang='{code}']").click()
    expect(page.locator(".brand")).to_have_text(brand)
    expect(page.locator("main > [data-stale]")).to_have_count(0)


def in_every_language(page: Page, screen: str) -> list[str]:
    problems = check(page, f"{screen} (fi)")
    for code, brand in (("sv", "Terapihäfte"), ("en", "Therapy booklet"), ("fi", "Terapiavihko")):
        page.locator(f"button.lang[lang='{code}']").click()
        expect(page.locator(".brand")).to_have_text(brand)
        page.locator("main[data-ready='true']").wait_for()
        if code != "fi":
            problems += check(page, f"{screen} ({code})")
    return problems


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_desk_and_admin_screens_pass_the_audit(world: World, viewport: dict[str, int]) -> None:
    set_up_period(world, attended=2, granted=40)
    now = int(time.time() * 1000)
    schedule(world, now - 3 * 3_600_000)  # over, still booked: to be marked
    schedule(world, now + 50 * 3_600_000)
    context = world.browser.new_context(viewport=viewport, locale="fi-FI")  # type: ignore[arg-type]
    page = context.new_page()
    page.on("pageerror", lambda exc: world.errors.append(f"pageerror: {exc}"))
    problems: list[str] = []

    server_sql(world.server,
               "INSERT INTO notices (dedupe_key, booklet_id, channel, address_enc, kind, language,"
               " slots, status, reason, not_before_ms, next_attempt_ms, created_at_ms,"
               " updated_at_ms) VALUES ('t:1', ?, 'sms', x'00', 'reminder', 'fi', '{}', 'failed',"
               " 'invalid-number', ?, ?, ?, ?)", bytes.fromhex(world.booklet), now, now, now, now)
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    expect(page.get_by_role("button", name=re.compile("^Lähetä uudelleen: "))).to_be_visible()
    problems += check(page, "therapist inbox with a text to send again")
    open_booklet(page, world.booklet)
    section = page.locator("#appointments-hook[data-ready='true']")
    section.get_by_text("Varaa käyntejä ja muokkaa jaksoa").click()
    section.get_by_role("button", name=re.compile("^Siirrä käynti")).click()
    invite = page.locator(".invite-member")
    invite.get_by_label("Muille näkyvä nimi").fill("Mummo")
    invite.get_by_label("Matkapuhelinnumero").fill("040 111 2222")
    invite.get_by_role("button", name="Luo kutsulinkki").click()
    expect(invite.get_by_role("region", name="Odottavat kutsut")).to_contain_text("Mummo")
    invite.get_by_role("button", name="Näytä QR-koodi: Mummo").click()
    expect(invite.get_by_role("img", name="QR-koodi, kutsulinkki: Mummo")).to_be_visible()
    expect(page.get_by_role("heading", name="Kirjaa käydyksi tai poissaoloksi (1)")).to_be_visible()
    problems += check(page, "therapist desk")
    _switch(page, "sv", "Terapihäfte")
    page.locator("#appointments-hook[data-ready='true']").wait_for()
    problems += check(page, "therapist desk (sv)")
    _switch(page, "en", "Therapy booklet")
    page.locator("#appointments-hook[data-ready='true']").wait_for()
    page.locator(".appts-tools summary").click()
    problems += check(page, "therapist desk (en)")
    page.locator("button.lang[lang='fi']").click()
    page.get_by_role("button", name="Kirjaudu ulos").click()

    page.goto(admin_invite(world.server, "Anna Admin", role="admin"))
    page.get_by_label("Käyttäjätunnus").fill("anna")
    page.get_by_label("Salasana", exact=True).fill(PARENT_PASSWORD)
    page.get_by_label("Salasana uudelleen").fill(PARENT_PASSWORD)
    page.get_by_role("button", name="Luo tunnus").click()
    page.locator("#recovery-key").wait_for(timeout=30_000)
    page.get_by_label("Olen tallentanut palautusavaimen").check()
    page.get_by_role("button", name="Jatka").click()
    page.locator("main[data-ready='true']").wait_for()
    page.locator("form[data-form='staff-invite']").get_by_label("Nimi").fill("Teemu T")
    page.get_by_role("button", name="Luo kutsulinkki").click()
    expect(page.locator(".admin-links li")).to_have_count(1)
    problems += in_every_language(page, "admin page")
    context.close()
    assert problems == []
