"""Browser-test plumbing: Debian's Chromium through Playwright, a loop thread for the Python
client, and a world with a real server, a therapist and a booklet.

Chromium must be present: a missing browser fails the tests (it never skips them). `make test`
installs Debian's `chromium` package when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, expect

from secure_msg.client import Client, Profile
from secure_msg.testing.server_process import ServerProcess

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"
PARENT_PASSWORD = "kissa koira kana lehmä"


def launch(playwright: Playwright) -> Browser:
    """Headless Debian Chromium; each context gets a fresh profile directory from Playwright."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)


class LoopThread:
    """An asyncio loop on its own thread, so the async Python client runs beside sync Playwright."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def admin_invite(server: ServerProcess, name: str, role: str = "therapist") -> str:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "admin", "invite", "--config",
         str(server.config_path), "--role", role, "--name", name, "--json"],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return local_link(server, json.loads(out.stdout)["link"])


def local_link(server: ServerProcess, link: str) -> str:
    """The configured public URL is the default; the test server listens on an ephemeral port."""
    return server.base_url + link[link.index("/enroll/"):]


@dataclass
class World:
    """A real server, a therapist (Python client) and a booklet with a title."""

    server: ServerProcess
    bg: LoopThread
    browser: Browser
    http: aiohttp.ClientSession | None = None
    therapist: Client | None = None
    booklet: str = ""
    errors: list[str] = field(default_factory=list)

    def setup(self, title: str = "Aino") -> None:
        async def go() -> None:
            self.http = aiohttp.ClientSession()
            self.therapist = Client(Profile(), self.http)
            await self.therapist.enroll(admin_invite(self.server, "Tiina T"), "tiina", PASSWORD)
            self.booklet = await self.therapist.create_booklet(title)
        self.bg.run(go())

    @property
    def t(self) -> Client:
        assert self.therapist is not None
        return self.therapist

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.bg.run(coro)

    def invite(self, name: str, role: str = "guardian", via: str | None = "link") -> str:
        """A link as the therapist hands it on: with the trust and history of protocol §6.7,
        or plain (`via=None`, as the server's own SMS sends it)."""
        terms = {"until": "2099-12-31", "scope": "new"} if role == "caregiver" else {}
        issued = self.call(self.t.invite(self.booklet, role, name=name, via=via, **terms))
        return local_link(self.server, issued["link"])

    def approve(self, guardian_login: str, caregiver_id: str, roster: bool = True) -> None:
        """The guardian approves the caregiver from another device (a Python client), so that
        the caregiver becomes a member (docs/protocol.md §5.1); her link carried no trust, so
        the therapist's client then signs her into the roster (§6.6), as the desk does, unless
        `roster` is False (a booklet without one)."""
        async def go() -> None:
            device = Client(Profile(), self.http)
            await device.login(self.server.base_url, guardian_login, PARENT_PASSWORD)
            await device.consent(self.booklet, caregiver_id, "approve")
            if roster:
                await self.t.roster(self.booklet, confirm=[caregiver_id])

        self.call(go())

    def page(self) -> tuple[BrowserContext, Page]:
        """A fresh context (its own storage) at phone size; page errors are collected."""
        context = self.browser.new_context(viewport=PHONE, locale="fi-FI")
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("console", lambda msg: self._console(msg))
        return context, page

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        # The sealed state's compare-and-swap (protocol §6.5): two tabs or devices writing at
        # once get 409 and the page reads, merges and writes again. Chromium logs the refused
        # request as an error; it is the protocol working, not a fault of the page.
        if "status of 409" in msg.text and msg.location.get("url", "").endswith("/api/me/state"):
            return
        self.errors.append(f"console: {msg.text}")

    def close(self) -> None:
        if self.http is not None:
            self.call(self.http.close())


def enroll_in_browser(page: Page, link: str, login: str, password: str = PARENT_PASSWORD) -> str:
    """Open an invitation link, enroll, confirm the recovery key; returns the recovery key."""
    page.goto(link)
    page.get_by_label("Käyttäjätunnus").fill(login)
    page.get_by_label("Salasana", exact=True).fill(password)
    page.get_by_label("Salasana uudelleen").fill(password)
    page.get_by_role("button", name="Luo tunnus").click()
    key = page.locator("#recovery-key")
    key.wait_for(timeout=30_000)
    text = key.text_content() or ""
    page.get_by_label("Olen tallentanut palautusavaimen").check()
    page.get_by_role("button", name="Jatka").click()
    page.get_by_role("heading", name="Vihkot").wait_for()
    return text


def login_in_browser(page: Page, base_url: str, login: str, password: str = PARENT_PASSWORD,
                     *, shared: bool = False) -> None:
    page.goto(base_url + "/")
    page.get_by_label("Käyttäjätunnus").fill(login)
    page.get_by_label("Salasana", exact=True).fill(password)
    if shared:
        page.get_by_label("yhteiskäyttöinen", exact=False).check()
    page.get_by_role("button", name="Kirjaudu", exact=True).click()
    page.get_by_role("heading", name="Vihkot").wait_for()


def open_booklet(page: Page, booklet: str) -> None:
    page.locator(f"[data-booklet='{booklet}'] a").click()
    page.locator("main[data-ready='true']").wait_for()


def confirm_newcomers(page: Page, *names: str) -> None:
    """Answer Send to the question a post asks before it reaches unverified members for the
    first time (docs/protocol.md §6.4), after checking it names `names`."""
    question = page.get_by_role("alertdialog")
    for name in names:
        expect(question).to_contain_text(name)
    question.get_by_role("button", name="Lähetä").click()
    expect(question).to_have_count(0)


def server_sql(server: ServerProcess, sql: str, *params: object) -> None:
    """Edit the running server's database from outside (SQLite in WAL mode allows it), as an
    operator's restore or a malicious server with the database could: how browser tests play
    both."""
    with closing(sqlite3.connect(server.db_path, timeout=10)) as conn, conn:
        conn.execute(sql, params)
