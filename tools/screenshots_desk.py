"""Screenshots of the therapist's desk, into docs/screenshots/.

    .venv/bin/python tools/screenshots_desk.py

Starts a throw-away server, gives a therapist (Python client) a caseload of eight booklets with
periods, this week's sessions, a family's cancellation, a notice that did not reach a family and
a parent's unread message, then photographs in Debian's Chromium: the desk at 1280x800 with the
day's and the week's sessions (desk.png), the desk with a booklet open beside the list
(desk-booklet.png), a search (desk-search.png) and the caseload on a phone (desk-phone.png).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from playwright.async_api import ViewportSize, async_playwright

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import ServerProcess, start_server

# The same browser, paths and helpers as the main screenshot script (run from tools/).
from screenshots import ARGS, OUT, PHONE, local, shoot, therapist_link  # isort: skip

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PASSWORD = "correct horse battery staple"  # noqa: S105 (a throw-away account)


PASSWORD = "correct horse battery staple"  # noqa: S105 (a throw-away account)
ZONE = ZoneInfo("Europe/Helsinki")
CHILDREN = ["Aino Virtanen", "Eino Korhonen", "Helmi Mäkinen", "Leo Nieminen",
            "Olivia Hämäläinen", "Oskari Laine", "Sofia Heikkinen", "Väinö Koskinen"]



async def caseload(server: ServerProcess, http: aiohttp.ClientSession) -> list[str]:
    tiina = Client(Profile(), http)
    await tiina.enroll(therapist_link(server), "tiina", PASSWORD)
    today = datetime.now(ZONE).replace(hour=8, minute=0, second=0, microsecond=0)
    booklets = []
    for i, child in enumerate(CHILDREN):
        b = await tiina.create_booklet(child)
        booklets.append(b)
        await tiina.api.call("POST", f"/api/booklets/{b}/period", {
            "start": (today - timedelta(days=200)).date().isoformat(),
            "end": (today + timedelta(days=60 + 10 * i)).date().isoformat(),
            "sessions_granted": 40 if i % 3 else 20, "payer": "kela" if i % 4 else "municipality"})
        for days, hour in ((i // 3, 8 + 2 * (i % 4)), (7 + i // 3, 8 + 2 * (i % 4))):
            await tiina.api.call("POST", f"/api/booklets/{b}/appointments", {
                "start": (today + timedelta(days=days, hours=hour - 8)).isoformat(),
                "duration_minutes": 45})
    mum = Client(Profile(), http)
    await mum.enroll(local(server, (await tiina.invite(booklets[1], "guardian", name="Äiti"))[
        "link"]), "aiti", PASSWORD)
    await tiina.grant_history(booklets[1], mum.profile.account_id)
    await mum.post(booklets[1], "note", text="Eino oli tänään tosi innoissaan keinusta!")
    rows = (await mum.api.call("GET", f"/api/booklets/{booklets[1]}/appointments"))
    upcoming = [a for a in rows["appointments"] if a["status"] == "scheduled"]
    await mum.api.call("POST", f"/api/booklets/{booklets[1]}/appointments/"
                               f"{upcoming[-1]['id']}/cancel")
    now = int(time.time() * 1000)
    with closing(sqlite3.connect(server.db_path, timeout=10)) as conn, conn:
        conn.execute(
            "INSERT INTO notices (dedupe_key, booklet_id, channel, address_enc, kind, language,"
            " slots, status, reason, not_before_ms, next_attempt_ms, created_at_ms, updated_at_ms)"
            " VALUES ('shot:1', ?, 'sms', x'00', 'reminder', 'fi', '{}', 'failed',"
            " 'invalid-number', ?, ?, ?, ?)", (bytes.fromhex(booklets[4]), now, now, now, now))
    return booklets


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    server = start_server(Path(tempfile.mkdtemp(prefix="shots-desk-")))
    try:
        async with aiohttp.ClientSession() as http, async_playwright() as pw:
            booklets = await caseload(server, http)
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               headless=True, args=ARGS)
            for viewport in (DESKTOP, PHONE):
                context = await browser.new_context(viewport=viewport, locale="fi-FI")
                page = await context.new_page()
                await page.goto(server.base_url + "/")
                await page.get_by_label("Käyttäjätunnus").fill("tiina")
                await page.get_by_label("Salasana", exact=True).fill(PASSWORD)
                await page.get_by_role("button", name="Kirjaudu", exact=True).click()
                await page.locator("main[data-ready='true']").wait_for()
                if viewport is PHONE:
                    await shoot(page, "desk-phone")
                    await context.close()
                    continue
                await shoot(page, "desk")
                await page.get_by_role("searchbox").fill("ei")
                await shoot(page, "desk-search")
                await page.get_by_role("searchbox").fill("")
                await page.locator(f"[data-booklet='{booklets[1]}'] a").click()
                await page.locator("main[data-ready='true']").wait_for()
                await shoot(page, "desk-booklet")
                await context.close()
            await browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
