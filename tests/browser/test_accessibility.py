"""Every screen passes a DOM walk: labelled inputs, named buttons, alt text, no inline code."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .audit import audit
from .harness import PASSWORD, World, login_in_browser, open_booklet
from .test_appointments import schedule, set_up_period

pytestmark = pytest.mark.slow


def test_every_screen_has_labels_names_and_alt_text(world: World) -> None:
    """Login, recovery, enrollment, recovery key, inbox, booklet (with appointments and the
    period bar), cancel confirmation, homework form, therapist
    tools, invitation link, removal confirmation and the safety number: no accessibility gaps."""
    problems: list[str] = []
    context, page = world.page()
    page.goto(world.server.base_url + "/")
    page.get_by_role("heading", name="Kirjaudu").wait_for()
    problems += audit(page, "login")
    page.get_by_role("link", name="Unohtuiko salasana? Käytä palautusavainta").click()
    page.get_by_role("heading", name="Palauta tunnus").wait_for()
    problems += audit(page, "recover")
    page.goto(world.invite("Isä"))
    page.get_by_role("heading", name="Luo tunnus").wait_for()
    problems += audit(page, "enroll")
    page.get_by_label("Käyttäjätunnus").fill("isa")
    page.get_by_label("Salasana", exact=True).fill("kissa koira kana lehmä")
    page.get_by_label("Salasana uudelleen").fill("kissa koira kana lehmä")
    page.get_by_role("button", name="Luo tunnus").click()
    page.locator("#recovery-key").wait_for(timeout=30_000)
    problems += audit(page, "recovery key")
    context.close()

    dad_id = next(m.account_id for m in world.call(world.t.members(world.booklet))
                  if m.role == "guardian")
    world.call(world.t.grant_history(world.booklet, dad_id))
    world.call(world.t.post(world.booklet, "homework", task="Pujottelu", frequency="3/vko"))
    set_up_period(world, attended=1, granted=30)
    schedule(world, int(time.time() * 1000) + 2 * 3_600_000)
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "isa")
    problems += audit(page, "inbox")
    open_booklet(page, world.booklet)
    page.locator("#appointments-hook[data-ready='true']").wait_for()
    problems += audit(page, "booklet")
    page.get_by_role("button", name=re.compile("^Peru käynti")).click()
    page.locator(".late-warning").wait_for()
    problems += audit(page, "cancel confirmation")
    page.get_by_role("button", name="Tehty tänään – miten meni?").click()
    problems += audit(page, "homework form")
    page.locator(".members summary").click()
    page.get_by_role("link", name=re.compile(r"^Vertaa turvanumeroa\W+Tiina T$")).click()
    page.locator(".digits").wait_for()
    problems += audit(page, "safety number")
    context.close()

    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    problems += audit(page, "therapist inbox")
    open_booklet(page, world.booklet)
    page.locator("#appointments-hook[data-ready='true']").wait_for()
    page.locator(".appts-earlier summary").click()
    problems += audit(page, "therapist booklet")
    page.get_by_role("button", name="Luo kutsulinkki").click()
    link = page.get_by_label("Kutsulinkki (anna se henkilölle; toimii kerran)")
    # the trust and history the link carries, in the fragment the server never sees (§6.7)
    expect(link).to_have_value(re.compile(
        r"/enroll/[A-Za-z0-9_-]+#i=[A-Za-z0-9_-]{43}&f=[0-9a-f]{32}&via=link$"))
    problems += audit(page, "invitation link")
    page.get_by_role("button", name="Poista Isä").click()
    problems += audit(page, "confirm removal")
    for code, heading in (("sv", "Terapihäfte"), ("en", "Therapy booklet")):
        page.locator(f"button.lang[lang='{code}']").click()
        expect(page.locator(".brand")).to_have_text(heading)
        problems += audit(page, f"booklet in {code}")
    context.close()
    assert problems == []
