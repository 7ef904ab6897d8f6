"""The therapist's desk in headless Debian Chromium against a real server (docs/performance.md).

    .venv/bin/python bench/web_desk.py [--booklets 100] [--runs 5]

A therapist with N booklets (each titled, with a period and two sessions this week) logs in at
desktop size (1280x800). Figures:
1. login → caseload listed: from the click on "Kirjaudu" until all N child names are decrypted
   and listed, ms (includes the password's key derivation and opening the key bundle);
2. desk → caseload listed: from the desk view's start until the list is shown (the page's own
   `data-caseload-ms`), ms, median and max of `runs` reloads (a personal device's restore);
3. API requests the desk makes for its list (GET /api/me/caseload; the notice-problems list).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from playwright.async_api import Page, Request, async_playwright

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import ServerProcess, start_server

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery staple"  # noqa: S105 (a throw-away bench account)
HELSINKI = ZoneInfo("Europe/Helsinki")


def invite_therapist(server: ServerProcess) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", "therapist", "--name", "T", "--json"],
        check=True, capture_output=True, text=True, timeout=60)
    link = str(json.loads(out.stdout)["link"])
    return server.base_url + link[link.index("/enroll/"):]


async def listed(page: Page, n: int) -> None:
    links = page.locator("ul.desk-booklets a.booklet-link")
    await page.wait_for_function(
        "n => document.querySelectorAll('ul.desk-booklets a.booklet-link').length === n", arg=n,
        timeout=60_000)
    assert await links.count() == n


async def run(booklets: int, runs: int) -> dict[str, object]:
    server = start_server(Path(tempfile.mkdtemp(prefix="bench-desk-")))
    try:
        async with aiohttp.ClientSession() as http, async_playwright() as pw:
            tiina = Client(Profile(), http)
            await tiina.enroll(invite_therapist(server), "tiina", PASSWORD)
            now = datetime.now(HELSINKI)
            for i in range(booklets):
                b = await tiina.create_booklet(f"Lapsi {i:03d}")
                await tiina.api.call("POST", f"/api/booklets/{b}/period", {
                    "start": (now.date() - timedelta(days=30)).isoformat(),
                    "end": (now.date() + timedelta(days=150)).isoformat(),
                    "sessions_granted": 40, "payer": "kela"})
                for days in (1 + i % 5, 8 + i % 5):
                    await tiina.api.call("POST", f"/api/booklets/{b}/appointments", {
                        "start": (now + timedelta(days=days, hours=i % 6)).isoformat(),
                        "duration_minutes": 45})
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               headless=True, args=ARGS)
            context = await browser.new_context(viewport={"width": 1280, "height": 800},
                                                locale="fi-FI")
            page = await context.new_page()
            api_calls: list[str] = []

            def note(req: Request) -> None:
                if "/api/" in req.url:
                    api_calls.append(req.url.split("/api/", 1)[1])
            await page.goto(server.base_url + "/")
            await page.get_by_label("Käyttäjätunnus").fill("tiina")
            await page.get_by_label("Salasana", exact=True).fill(PASSWORD)
            started = time.perf_counter()
            await page.get_by_role("button", name="Kirjaudu", exact=True).click()
            await listed(page, booklets)
            login_ms = (time.perf_counter() - started) * 1000
            names_ok = await page.locator("ul.desk-booklets", has_text="Lapsi 099"
                                          if booklets >= 100 else "Lapsi 000").count()
            desk_ms: list[float] = []
            reload_ms: list[float] = []
            for i in range(runs):
                if i == runs - 1:
                    page.on("request", note)
                started = time.perf_counter()
                await page.reload()
                await listed(page, booklets)
                reload_ms.append((time.perf_counter() - started) * 1000)
                desk_ms.append(float(await page.evaluate(
                    "Number(document.documentElement.dataset.caseloadMs)")))
            await page.wait_for_load_state("networkidle")
            await browser.close()
            return {
                "booklets": booklets, "names_decrypted": bool(names_ok),
                "login_to_listed_ms": round(login_ms),
                "desk_to_listed_ms_median": statistics.median(desk_ms),
                "desk_to_listed_ms_max": max(desk_ms),
                "reload_to_listed_ms_median": round(statistics.median(reload_ms)),
                "api_requests_on_reload": len(api_calls),
                "api_paths": sorted({c.split("?")[0] for c in api_calls}),
            }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--booklets", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.booklets, args.runs)), indent=1))


if __name__ == "__main__":
    main()
