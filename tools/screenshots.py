"""Phone-size screenshots of the web inbox's main screens, into docs/screenshots/.

    .venv/bin/python tools/screenshots.py

Starts a throw-away server, enrolls a therapist with the Python client, and a parent in Debian's
Chromium (headless, driven by Playwright), then photographs: enrollment, the recovery key,
the inbox, appointments with the period bar, a booklet, a homework card with its "how did it go"
form, attaching a document and a photo and the entry they make, and the safety number.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from playwright.async_api import FilePayload, Page, ViewportSize, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import ServerProcess, start_server

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE: ViewportSize = {"width": 390, "height": 844}


def local(server: ServerProcess, link: str) -> str:
    return server.base_url + link[link.index("/enroll/"):]


def therapist_link(server: ServerProcess) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", "therapist", "--name", "Tiina Terapeutti", "--json"],
        check=True, capture_output=True, text=True, timeout=60)
    return local(server, json.loads(out.stdout)["link"])


async def shoot(page: Page, name: str, *, full: bool = False) -> None:
    await page.wait_for_timeout(200)
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print("wrote", OUT / f"{name}.png")


async def schedule_sessions(tiina: Client, booklet: str) -> None:
    """A Kela period with 27 of 40 used and two upcoming sessions (Helsinki time)."""
    zone = ZoneInfo("Europe/Helsinki")
    now = datetime.now(zone).replace(minute=0, second=0, microsecond=0)
    base = f"/api/booklets/{booklet}"
    await tiina.api.call("POST", f"{base}/period", {
        "start": (now - timedelta(days=300)).date().isoformat(),
        "end": (now + timedelta(days=60)).date().isoformat(), "sessions_granted": 40,
        "payer": "kela"})
    for week in range(27):
        a = await tiina.api.call("POST", f"{base}/appointments", {
            "start": (now - timedelta(days=7 * week + 2)).isoformat(), "duration_minutes": 45})
        await tiina.api.call("POST", f"{base}/appointments/{a['id']}/status",
                             {"status": "attended"})
    for days in (3, 10):
        start = (now + timedelta(days=days)).replace(hour=14)
        await tiina.api.call("POST", f"{base}/appointments",
                             {"start": start.isoformat(), "duration_minutes": 45})


async def confirm_if_asked(page: Page) -> None:
    """The first post to a member not verified in person asks first (docs/protocol.md §6.4)."""
    question = page.get_by_role("alertdialog")
    try:
        await question.wait_for(timeout=3000)
    except PlaywrightTimeout:
        return
    await question.get_by_role("button", name="Lähetä").click()


async def attach_document(page: Page) -> None:
    """The write box with a PDF and a photo chosen (the file chooser the button opens), then
    the entry they make, the photo previewed."""
    photo = await page.evaluate("""async () => {
        const c = document.createElement('canvas'); c.width = 640; c.height = 360;
        const g = c.getContext('2d'); g.fillStyle = '#e3efe9'; g.fillRect(0, 0, 640, 360);
        g.strokeStyle = '#2f6b5a'; g.lineWidth = 14; g.beginPath(); g.moveTo(60, 200);
        g.bezierCurveTo(200, 60, 420, 320, 580, 150); g.stroke();
        const blob = await new Promise((ok) => c.toBlob(ok, 'image/jpeg', 0.85));
        return [...new Uint8Array(await blob.arrayBuffer())];
    }""")
    pdf = b"%PDF-1.4\n" + b"Terapiasuunnitelma " * 2000 + b"\n%%EOF\n"
    async with page.expect_file_chooser() as chooser:
        await page.locator(".compose").get_by_role("button", name="Liitä tiedostoja").click()
    files: list[FilePayload] = [
        {"name": "Terapiasuunnitelma kevät.pdf", "mimeType": "application/pdf", "buffer": pdf},
        {"name": "Leikkausharjoitus.jpg", "mimeType": "image/jpeg", "buffer": bytes(photo)},
    ]
    await (await chooser.value).set_files(files)
    await page.get_by_label("Kirjoita viesti").fill("Tässä suunnitelma ja kuva harjoituksesta.")
    await page.locator(".compose").scroll_into_view_if_needed()
    await shoot(page, "attach-document")
    await page.locator(".compose").get_by_role("button", name="Lähetä", exact=True).click()
    await confirm_if_asked(page)
    entry = page.locator(".entry", has_text="Tässä suunnitelma")
    await entry.get_by_role("img").wait_for()
    await entry.scroll_into_view_if_needed()
    await shoot(page, "document")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    server = start_server(Path(tempfile.mkdtemp(prefix="screens-")))
    try:
        async with aiohttp.ClientSession() as http, async_playwright() as pw:
            tiina = Client(Profile(), http)
            await tiina.enroll(therapist_link(server), "tiina", "correct horse battery staple")
            booklet = await tiina.create_booklet("Aino")
            issued = await tiina.invite(booklet, "guardian", name="Äiti")
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               headless=True, args=ARGS)
            page = await (await browser.new_context(viewport=PHONE, locale="fi-FI")).new_page()
            await page.goto(local(server, issued["link"]))
            await page.get_by_label("Käyttäjätunnus").fill("aiti")
            await page.get_by_label("Salasana", exact=True).fill("kissa koira kana lehmä")
            await page.get_by_label("Salasana", exact=True).dispatch_event("input")
            await shoot(page, "enrollment")
            await page.get_by_label("Salasana uudelleen").fill("kissa koira kana lehmä")
            await page.get_by_role("button", name="Luo tunnus").click()
            await page.locator("#recovery-key").wait_for(timeout=30_000)
            await shoot(page, "recovery-key")
            await page.get_by_label("Olen tallentanut palautusavaimen").check()
            await page.get_by_role("button", name="Jatka").click()

            parent = next(m for m in await tiina.members(booklet) if m.role == "guardian")
            await tiina.grant_history(booklet, parent.account_id)
            await tiina.post(booklet, "note", text=(
                "Kiitos tästä päivästä! Aino leikkasi saksilla suoraa viivaa pitkin ja jaksoi "
                "keskittyä koko tunnin."))
            await tiina.post(booklet, "homework", task="Leikkaa viivaa pitkin",
                                  frequency="5 kertaa viikossa",
                                  text="Paksu tussiviiva paperiin, noin 15 cm. Kehu onnistumisia.")
            await schedule_sessions(tiina, booklet)
            await page.reload()
            await page.get_by_role("heading", name="Vihkot").wait_for()
            await page.locator(f"[data-booklet='{booklet}']").wait_for()
            await shoot(page, "inbox")
            await page.locator(f"[data-booklet='{booklet}'] a").click()
            await page.locator("main[data-ready='true']").wait_for()
            await page.locator("#appointments-hook[data-ready='true']").wait_for()
            # A booklet opens at its newest entry (issue 16): the appointments are above it.
            await page.evaluate("window.scrollTo(0, 0)")
            await page.wait_for_timeout(100)
            await shoot(page, "appointments")
            card = page.locator(".task")
            await card.get_by_role("button", name="Tehty tänään – miten meni?").click()
            await card.get_by_label("Meni hyvin").check()
            await card.get_by_role("button", name="Tallenna").click()
            await confirm_if_asked(page)
            await page.locator(".entry-log").wait_for()
            await page.get_by_label("Kirjoita viesti").fill("Kotona harjoiteltiin, meni hyvin!")
            await page.get_by_role("button", name="Lähetä", exact=True).click()
            await page.locator(".entry-note .text", has_text="Kotona").wait_for()
            await shoot(page, "booklet", full=True)
            await card.get_by_role("button", name="Tehty tänään – miten meni?").click()
            await card.scroll_into_view_if_needed()
            await shoot(page, "homework")
            await card.get_by_role("button", name="Peruuta").click()
            await attach_document(page)
            await page.locator(".members summary").click()
            await page.locator(".members a.button").first.click()
            await page.locator(".digits").wait_for()
            await shoot(page, "safety-number")
            await browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
