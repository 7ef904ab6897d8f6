"""Phone-size screenshots of a family's first minute, into docs/screenshots/.

    .venv/bin/python tools/screenshots_first_minute.py

Starts a throw-away server; a therapist (Python client) opens a booklet with two earlier
entries, then invites the mother in Debian's Chromium (headless, Playwright) and shows the
invitation's QR code, as at the first meeting (invite-qr.png). The mother enrolls with the
link the code carries, on her phone: the child's name and the earlier entries are there at
once (first-minute.png), and her first message goes without a question (first-message.png).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import aiohttp
from playwright.async_api import Page, async_playwright

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import start_server

# The same browser, paths and helpers as the main screenshot script (run from tools/).
from screenshots import ARGS, OUT, PHONE, local, shoot, therapist_link  # isort: skip

PASSWORD = "correct horse battery staple"  # noqa: S105 (a throw-away account)


async def sign_in(page: Page, base: str) -> None:
    await page.goto(base + "/")
    await page.get_by_label("Käyttäjätunnus").fill("tiina")
    await page.get_by_label("Salasana", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Kirjaudu", exact=True).click()
    await page.locator("main[data-ready='true']").wait_for()


async def enroll(page: Page, link: str) -> None:
    await page.goto(link)
    await page.get_by_label("Käyttäjätunnus").fill("aiti")
    await page.get_by_label("Salasana", exact=True).fill(PASSWORD)
    await page.get_by_label("Salasana uudelleen").fill(PASSWORD)
    await page.get_by_role("button", name="Luo tunnus").click()
    await page.locator("#recovery-key").wait_for(timeout=60_000)
    await page.get_by_label("Olen tallentanut palautusavaimen").check()
    await page.get_by_role("button", name="Jatka").click()
    await page.get_by_role("heading", name="Vihkot").wait_for()


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    server = start_server(Path(tempfile.mkdtemp(prefix="shots-first-minute-")))
    try:
        async with aiohttp.ClientSession() as http, async_playwright() as pw:
            tiina = Client(Profile(), http)
            await tiina.enroll(therapist_link(server), "tiina", PASSWORD)
            booklet = await tiina.create_booklet("Aino Virtanen")
            await tiina.post(booklet, "note", text="Ensimmäinen tapaaminen: sovimme tavoitteet "
                             "saksilla leikkaamiseen ja pukemiseen.")
            await tiina.post(booklet, "homework", task="Napit kiinni itse aamulla",
                             frequency="päivittäin", details="Aloita isoista napeista.")
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               headless=True, args=ARGS)
            therapist = await (await browser.new_context(
                viewport=PHONE, locale="fi-FI", timezone_id="Europe/Helsinki")).new_page()
            await sign_in(therapist, server.base_url)
            await therapist.goto(f"{server.base_url}/#/b/{booklet}")
            await therapist.locator("main[data-ready='true']").wait_for()
            form = therapist.locator(".invite-member")
            await form.get_by_label("Muille näkyvä nimi").fill("Äiti")
            await form.get_by_role("button", name="Luo kutsulinkki").click()
            link = form.get_by_label("Kutsulinkki (anna se henkilölle; toimii kerran): Äiti")
            await link.wait_for()
            await form.get_by_role("button", name="Näytä QR-koodi: Äiti").click()
            code = form.get_by_role("img", name="QR-koodi, kutsulinkki: Äiti")
            await code.evaluate("(el) => el.scrollIntoView({block: 'center'})")
            await shoot(therapist, "invite-qr")
            # What the code says: the link with via=qr (the mother's phone camera reads it).
            scanned = (await link.input_value()).replace("&via=link", "&via=qr")

            mum = await (await browser.new_context(
                viewport=PHONE, locale="fi-FI", timezone_id="Europe/Helsinki")).new_page()
            await enroll(mum, local(server, scanned))
            await mum.locator(f"[data-booklet='{booklet}'] a").click()
            await mum.locator("main[data-ready='true']").wait_for()
            await mum.evaluate("window.scrollTo(0, 0)")  # the child's name, then the entries
            await shoot(mum, "first-minute")
            await mum.get_by_label("Kirjoita viesti").fill("Kiitos! Harjoittelemme aamuisin.")
            await mum.locator(".compose").get_by_role("button", name="Lähetä").click()
            await mum.locator(".entry-note .text", has_text="Kiitos!").wait_for()
            await mum.locator(".compose").evaluate("(el) => el.scrollIntoView({block: 'end'})")
            await shoot(mum, "first-message")
            await browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
