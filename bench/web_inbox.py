"""Web inbox figures in headless Debian Chromium against a real server (docs/performance.md).

    .venv/bin/python bench/web_inbox.py [--entries 1000] [--live 30]

1. first-load JS + CSS bytes (uncompressed) of the page at /, as the browser received them;
2. opening a booklet of N entries to its newest page (fetch, verify, decrypt and render the
   newest 50 with the title), ms (median of 5), and until the whole booklet is read and
   history-checked behind it, with the same for a booklet of 1 entry as the baseline;
3. live update latency: a therapist's post (Python client) until the parent's open booklet shows
   it, p50/p99, with the bare post → 201 time as the baseline.
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
from pathlib import Path

import aiohttp
from playwright.async_api import Page, Response, async_playwright

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import ServerProcess, start_server

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery staple"  # noqa: S105 (a throw-away bench account)


def invite_therapist(server: ServerProcess) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", "therapist", "--name", "T", "--json"],
        check=True, capture_output=True, text=True, timeout=60)
    return local(server, json.loads(out.stdout)["link"])


def local(server: ServerProcess, link: str) -> str:
    return server.base_url + link[link.index("/enroll/"):]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def open_ms(page: Page, base: str, booklet: str) -> tuple[float, float]:
    """(newest page shown, whole booklet read and checked), ms from the view's start."""
    await page.goto(f"{base}/#/b/{booklet}")
    await page.reload()  # a hash-only goto does not reload the page
    await page.locator("main[data-ready='true']").wait_for(timeout=120_000)
    newest, full = await page.evaluate("[Number(document.documentElement.dataset.bookletNewestMs),"
                                       " Number(document.documentElement.dataset.bookletRenderMs)]")
    return float(newest), float(full)


async def run(entries: int, live_n: int) -> dict[str, float]:
    server = start_server(Path(tempfile.mkdtemp(prefix="bench-web-")))
    try:
        async with aiohttp.ClientSession() as http, async_playwright() as pw:
            tiina = Client(Profile(), http)
            await tiina.enroll(invite_therapist(server), "tiina", PASSWORD)
            big, one = await tiina.create_booklet("Iso"), await tiina.create_booklet("Yksi")
            parent = Client(Profile(), http)
            await parent.enroll(local(server, (await tiina.invite(big, "guardian"))["link"]),
                                "vanhempi", PASSWORD)
            await parent.accept(local(server, (await tiina.invite(one, "guardian"))["link"]))
            await tiina.grant_history(one, parent.profile.account_id)
            await tiina.grant_history(big, parent.profile.account_id)
            for i in range(entries - 1):
                await tiina.post(big, "note", text=f"Merkintä {i}: " + "harjoitus " * 20)
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               headless=True, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844},
                                                locale="fi-FI")
            page = await context.new_page()
            sizes: dict[str, int] = {}

            async def count(resp: Response) -> None:
                if resp.url.endswith((".mjs", ".css")):
                    sizes[resp.url] = len(await resp.body())
            page.on("response", count)
            await page.goto(server.base_url + "/")
            await page.get_by_label("Käyttäjätunnus").wait_for()
            first_load, first_files = sum(sizes.values()), len(sizes)
            await page.get_by_label("Käyttäjätunnus").fill("vanhempi")
            await page.get_by_label("Salasana", exact=True).fill(PASSWORD)
            await page.get_by_role("button", name="Kirjaudu", exact=True).click()
            await page.get_by_role("heading", name="Vihkot").wait_for()
            await page.wait_for_load_state("networkidle")
            page.remove_listener("response", count)
            with_inbox = sum(sizes.values())
            big_runs = [await open_ms(page, server.base_url, big) for _ in range(5)]
            one_runs = [await open_ms(page, server.base_url, one) for _ in range(5)]
            big_ms, big_full = [b[0] for b in big_runs], [b[1] for b in big_runs]
            one_ms = [o[0] for o in one_runs]
            await open_ms(page, server.base_url, big)
            await page.locator("html[data-live='ready']").wait_for()
            live: list[float] = []
            bare: list[float] = []
            for i in range(live_n):
                text = f"live-{i}"
                started = time.perf_counter()
                await tiina.post(big, "note", text=text)
                bare.append((time.perf_counter() - started) * 1000)
                await page.locator(".entry-note .text", has_text=text).wait_for()
                live.append((time.perf_counter() - started) * 1000)
            await browser.close()
            return {
                "first_load_bytes": first_load, "first_load_files": first_files,
                "with_inbox_bytes": with_inbox, "all_files": len(sizes),
                "open_newest_ms_median": statistics.median(big_ms),
                "open_newest_ms_max": max(big_ms),
                "open_full_ms_median": statistics.median(big_full),
                "open_1_entry_ms_median": statistics.median(one_ms),
                "live_p50_ms": pct(live, 0.5), "live_p99_ms": pct(live, 0.99),
                "post_p50_ms": pct(bare, 0.5), "post_p99_ms": pct(bare, 0.99),
            }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--live", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.entries, args.live)), indent=1))


if __name__ == "__main__":
    main()
