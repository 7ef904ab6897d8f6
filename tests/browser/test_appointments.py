"""Appointments and the therapy period in the booklet view: a parent sees the next session and
"27 of 40", cancels one with a confirmation (and the late warning), and the server agrees."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .harness import PASSWORD, World, enroll_in_browser, login_in_browser, open_booklet

pytestmark = pytest.mark.slow
HELSINKI = ZoneInfo("Europe/Helsinki")
HOUR = 3_600_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=HELSINKI).isoformat()


def schedule(world: World, start_ms: int) -> dict[str, Any]:
    result: dict[str, Any] = world.call(world.t.api.call(
        "POST", f"/api/booklets/{world.booklet}/appointments",
        {"start": iso(start_ms), "duration_minutes": 45}))
    return result


def appointments(world: World) -> dict[str, dict[str, Any]]:
    rows = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/appointments"))
    return {a["id"]: a for a in rows["appointments"]}


def set_up_period(world: World, attended: int, granted: int) -> date:
    """A period that began 200 days ago with `attended` sessions attended; returns its end."""
    today = datetime.now(HELSINKI).date()
    end = today + timedelta(days=120)
    world.call(world.t.api.call("POST", f"/api/booklets/{world.booklet}/period", {
        "start": (today - timedelta(days=200)).isoformat(), "end": end.isoformat(),
        "sessions_granted": granted, "payer": "kela"}))
    now = int(time.time() * 1000)
    for i in range(attended):
        a = schedule(world, now - (i + 2) * 24 * HOUR)
        world.call(world.t.api.call(
            "POST", f"/api/booklets/{world.booklet}/appointments/{a['id']}/status",
            {"status": "attended"}))
    return end


def test_parent_sees_period_and_next_session_and_cancels_with_confirmation(world: World) -> None:
    end = set_up_period(world, attended=27, granted=40)
    now = int(time.time() * 1000)
    soon = schedule(world, now + 5 * HOUR)  # inside the default 24 h window: late
    later = schedule(world, now + 8 * 24 * HOUR)
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    open_booklet(page, world.booklet)

    section = page.locator("#appointments-hook[data-ready='true']")
    expect(section.get_by_role("heading", name="Käynnit")).to_be_visible()
    period = section.locator(".period")
    expect(period).to_have_text(
        f"Käytetty 27/40 käyntiä · jakso päättyy {end.day}.{end.month}.{end.year}")
    bar = section.get_by_role("progressbar")
    expect(bar).to_have_attribute("max", "40")
    assert bar.evaluate("el => el.value") == 27
    expect(bar).to_have_accessible_name(re.compile(r"^Käytetty 27/40 käyntiä"))
    expect(section.locator(".next-session")).to_contain_text("Seuraava käynti:")
    # Only future sessions for a parent; the attended ones are counted, not listed.
    expect(section.locator(".appt")).to_have_count(2)

    far = section.locator(f"[data-appointment='{later['id']}']")
    far.get_by_role("button", name=re.compile("^Peru käynti")).click()
    expect(far.get_by_role("group")).to_contain_text("Perutaanko käynti")
    expect(far.locator(".late-warning")).to_have_count(0)
    far.get_by_role("button", name="Ei, pidä käynti").click()
    expect(far.locator(".appt-status")).to_have_text("Varattu")

    near = section.locator(f"[data-appointment='{soon['id']}']")
    near.get_by_role("button", name=re.compile("^Peru käynti")).click()
    expect(near.locator(".late-warning")).to_contain_text("alle 24 tuntia")
    near.get_by_role("button", name="Kyllä, peru käynti").click()
    near = section.locator(f"[data-appointment='{soon['id']}']")
    expect(near.locator(".appt-status")).to_have_text("Peruttu (myöhäinen peruutus)")
    expect(near.get_by_role("button")).to_have_count(0)

    server = appointments(world)
    assert server[soon["id"]]["status"] == "cancelled_by_family"
    assert server[soon["id"]]["late"] is True
    assert server[soon["id"]]["cancelled_via"] == "api"
    assert server[later["id"]]["status"] == "scheduled"

    page.reload()  # the cancelled state comes from the server, and the next session moved on
    section = page.locator("#appointments-hook[data-ready='true']")
    expect(section.locator(f"[data-appointment='{soon['id']}'] .appt-status")).to_have_text(
        "Peruttu (myöhäinen peruutus)")
    context.close()


def test_therapist_sees_attended_and_no_show(world: World) -> None:
    set_up_period(world, attended=2, granted=10)
    missed = schedule(world, int(time.time() * 1000) - 30 * 24 * HOUR)
    world.call(world.t.api.call(
        "POST", f"/api/booklets/{world.booklet}/appointments/{missed['id']}/status",
        {"status": "no_show"}))
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    section = page.locator("#appointments-hook[data-ready='true']")
    expect(section.locator(".next-session")).to_have_text("Ei tulevia käyntejä.")
    section.get_by_text("Aiemmat käynnit (3)").click()
    expect(section.locator(".appts-earlier .appt-status")).to_have_text(
        ["Käyty", "Käyty", "Ei saavuttu"])
    context.close()
