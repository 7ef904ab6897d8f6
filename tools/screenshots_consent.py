"""Phone-size screenshots of a guardian's consent step and a booklet's access log, into
docs/screenshots/.

    .venv/bin/python tools/screenshots_consent.py

Starts a throw-away server; a therapist (Python client) opens a booklet with a few entries
and invites a daycare worker as a caregiver until the end of May; the daycare enrolls (Python
client) and waits for consent. A parent enrolls in Debian's Chromium (headless, Playwright) and
is photographed at the consent request (consent.png); she approves, the therapist shows the
daycare the earlier entries, the daycare reads them, and the booklet's access log is
photographed open (access-log.png).
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date
from pathlib import Path

import aiohttp
from playwright.async_api import Page, async_playwright

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import start_server

# The same browser, paths and helpers as the main screenshot script (run from tools/).
from screenshots import ARGS, OUT, PHONE, local, shoot, therapist_link  # isort: skip

PASSWORD = "correct horse battery staple"  # noqa: S105 (a throw-away account)



async def enroll_in_browser(page: Page, link: str, login: str) -> None:
    await page.goto(link)
    await page.get_by_label("Käyttäjätunnus").fill(login)
    await page.get_by_label("Salasana", exact=True).fill(PASSWORD)
    await page.get_by_label("Salasana uudelleen").fill(PASSWORD)
    await page.get_by_role("button", name="Luo tunnus").click()
    await page.locator("#recovery-key").wait_for(timeout=60_000)
    await page.get_by_label("Olen tallentanut palautusavaimen").check()
    await page.get_by_role("button", name="Jatka").click()
    await page.get_by_role("heading", name="Vihkot").wait_for()


async def open_booklet(page: Page, booklet: str) -> None:
    await page.locator(f"[data-booklet='{booklet}'] a").click()
    await page.locator("main[data-ready='true']").wait_for()


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    server = start_server(Path(tempfile.mkdtemp(prefix="shots-consent-")))
    until = date(date.today().year + 1, 5, 31).isoformat()  # the last day, inclusive
    try:
        async with aiohttp.ClientSession() as http, async_playwright() as pw:
            tiina = Client(Profile(), http)
            await tiina.enroll(therapist_link(server), "tiina", PASSWORD)
            booklet = await tiina.create_booklet("Aino Virtanen")
            await tiina.post(booklet, "note", text="Tänään harjoittelimme saksilla leikkaamista.")
            await tiina.post(booklet, "note", text="Kotiharjoitus: napit kiinni itse aamulla.")
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               headless=True, args=ARGS)
            context = await browser.new_context(viewport=PHONE, locale="fi-FI",
                                                timezone_id="Europe/Helsinki")
            page = await context.new_page()
            mum_link = (await tiina.invite(booklet, "guardian", name="Äiti"))["link"]
            await enroll_in_browser(page, local(server, mum_link), "aiti")
            mum_id = next(m.account_id for m in await tiina.members(booklet) if m.name == "Äiti")
            await tiina.grant_history(booklet, mum_id)

            issued = await tiina.invite(booklet, "caregiver", name="Päiväkoti Satakieli",
                                        until=until, scope="history")
            daycare = Client(Profile(), http)
            await daycare.enroll(local(server, issued["link"]), "satakieli", PASSWORD)

            await open_booklet(page, booklet)
            request = page.locator(
                f".consent-row[data-caregiver='{daycare.profile.account_id}']")
            await request.wait_for()
            await page.locator("section.consent").evaluate(
                "(el) => el.scrollIntoView({block: 'center'})")
            await shoot(page, "consent")

            await request.get_by_role("button", name="Hyväksy").click()
            await page.locator(f".consent-row[data-caregiver='{daycare.profile.account_id}']"
                               "[data-status='active']").wait_for()
            await tiina.grant_history(booklet, daycare.profile.account_id)
            await daycare.read(booklet)

            await page.reload()
            await page.locator("main[data-ready='true']").wait_for()
            panel = page.locator("details.access-log")
            await panel.get_by_role("heading", name="Käyttöloki").click()
            await panel.locator(".access-item[data-action='entries.fetched']",
                                has_text="Päiväkoti").first.wait_for()
            await panel.evaluate("(el) => el.scrollIntoView({block: 'start'})")
            await shoot(page, "access-log")
            await context.close()
            await browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
