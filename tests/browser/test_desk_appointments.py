"""The therapist's appointment tools in the browser (issue 16), at phone and desktop size: set
a therapy period of 40 sessions, book a weekly series that began two weeks ago, mark a past
session attended and watch "0/40" become "1/40", and move an upcoming one; the server agrees
with every step."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from .harness import PASSWORD, World, login_in_browser, open_booklet

pytestmark = pytest.mark.slow
HELSINKI = ZoneInfo("Europe/Helsinki")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def appointments(world: World) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = world.call(world.t.api.call(
        "GET", f"/api/booklets/{world.booklet}/appointments"))["appointments"]
    return sorted(rows, key=lambda a: a["start"])


def therapist_page(world: World, viewport: dict[str, int]) -> Page:
    context = world.browser.new_context(viewport=viewport, locale="fi-FI")  # type: ignore[arg-type]
    page = context.new_page()
    page.on("pageerror", lambda exc: world.errors.append(f"pageerror: {exc}"))
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    return page


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_therapist_books_a_weekly_series_sets_a_period_and_marks_one_attended(
    world: World, viewport: dict[str, int],
) -> None:
    page = therapist_page(world, viewport)
    section = page.locator("#appointments-hook[data-ready='true']")
    section.get_by_text("Varaa käyntejä ja muokkaa jaksoa").click()
    today = datetime.now(HELSINKI).date()

    period = section.locator("form[data-form='period']")
    period.get_by_label("Alkaa").fill((today - timedelta(days=30)).isoformat())
    period.get_by_label("Päättyy").fill((today + timedelta(days=150)).isoformat())
    period.get_by_label("Myönnetyt käynnit").fill("40")
    period.get_by_label("Maksaja").select_option("kela")
    period.get_by_role("button", name="Tallenna jakso").click()
    status = page.locator("#appointments-hook .appts-status")
    expect(status).to_have_text("Jakso tallennettiin.")
    expect(status).to_be_focused()
    expect(page.locator("#appointments-hook .period")).to_contain_text("Käytetty 0/40 käyntiä")

    first_day = today - timedelta(days=14)
    book = page.locator("#appointments-hook form[data-form='schedule']")
    book.get_by_label("Päivä").fill(first_day.isoformat())
    book.get_by_label("Kellonaika").fill("10:00")
    book.get_by_label("Kesto minuutteina").fill("45")
    book.get_by_label("Montako viikoittaista käyntiä").fill("10")
    book.get_by_role("button", name="Varaa", exact=True).click()
    expect(status).to_have_text("10 viikoittaista käyntiä varattiin.")

    rows = appointments(world)
    starts = [datetime.fromisoformat(a["start"]).astimezone(HELSINKI) for a in rows]
    assert [s.date() for s in starts] == [first_day + timedelta(weeks=i) for i in range(10)]
    assert {(s.hour, s.minute) for s in starts} == {(10, 0)}  # across any change of clocks
    assert {a["duration_minutes"] for a in rows} == {45}
    now = datetime.now(HELSINKI)
    past = [a for a, s in zip(rows, starts, strict=True) if s + timedelta(minutes=45) <= now]
    assert len(past) in (2, 3)  # two weeks ago, last week, and today's if it is over

    to_mark = page.locator("#appointments-hook .appts-to-mark")
    expect(page.get_by_role("heading", name=f"Kirjaa käydyksi tai poissaoloksi ({len(past)})")
           ).to_be_visible()
    first = to_mark.locator(f"[data-appointment='{past[0]['id']}']")
    first.get_by_role("button", name=re.compile("^Merkitse käydyksi: ")).click()
    expect(status).to_contain_text("merkittiin käydyksi")
    expect(page.locator("#appointments-hook .period")).to_contain_text("Käytetty 1/40 käyntiä")
    bar = page.locator("#appointments-hook").get_by_role("progressbar")
    expect(bar).to_have_accessible_name(re.compile(r"^Käytetty 1/40 käyntiä"))
    assert bar.evaluate("el => el.value") == 1
    assert {a["id"]: a["status"] for a in appointments(world)}[past[0]["id"]] == "attended"
    expect(page.get_by_role("heading", name=f"Kirjaa käydyksi tai poissaoloksi ({len(past) - 1})")
           ).to_be_visible()

    # Move the last session of the series a day later, same time.
    last = rows[-1]
    item = page.locator(f"#appointments-hook [data-appointment='{last['id']}']")
    item.get_by_role("button", name=re.compile("^Siirrä käynti")).click()
    move = item.get_by_role("form")
    new_day = starts[-1].date() + timedelta(days=1)
    move.get_by_label("Päivä").fill(new_day.isoformat())
    move.get_by_role("button", name="Siirrä käynti").click()
    expect(status).to_contain_text("siirrettiin")
    after = {a["id"]: a for a in appointments(world)}
    assert after[last["id"]]["status"] == "cancelled_by_therapist"
    moved = [a for a in after.values() if a["id"] not in {r["id"] for r in rows}]
    assert len(moved) == 1
    at = datetime.fromisoformat(moved[0]["start"]).astimezone(HELSINKI)
    assert (at.date(), at.hour, at.minute) == (new_day, 10, 0)
    page.context.close()


def test_bad_period_is_refused_in_words_and_nothing_is_stored(world: World) -> None:
    page = therapist_page(world, PHONE)
    section = page.locator("#appointments-hook[data-ready='true']")
    section.get_by_text("Varaa käyntejä ja muokkaa jaksoa").click()
    today = datetime.now(HELSINKI).date()
    period = section.locator("form[data-form='period']")
    period.get_by_label("Alkaa").fill(today.isoformat())
    period.get_by_label("Päättyy").fill((today - timedelta(days=1)).isoformat())
    period.get_by_label("Myönnetyt käynnit").fill("40")
    period.get_by_role("button", name="Tallenna jakso").click()
    expect(period.get_by_role("alert")).to_have_text(
        "Päättymispäivän pitää olla alkamispäivän jälkeen.")
    data = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/appointments"))
    assert data["period"] is None
    page.context.close()
