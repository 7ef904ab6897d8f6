"""A practice's first day with no CLI at all (issue 16's acceptance), in Debian's Chromium by
accessible names and roles: the server started as `make run` starts it (`secure-msg run`: the
one-time start-up link, and SMS to the local Twilio-compatible server); the admin enrolls from
that link and invites a therapist in the browser; the therapist (desktop) creates two
booklets, writes a first note and invites a mother with a QR code "at the first meeting" (read
from the screen's pixels by a QR decoder, as a phone camera would), a father of another
household with a copied link and a daycare worker by text message; each joins on a phone and
sees the child's name and the earlier entries at once, and the mother's first message asks
nothing; both guardians approve the daycare worker; the therapist books a weekly series and
a period, the mother cancels a session and the therapist's open desk shows it live; a session
marked attended moves the period bar."""

from __future__ import annotations

import io
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from secure_msg.testing.server_process import ServerProcess

from .harness import PARENT_PASSWORD, PHONE, enroll_in_browser

pytestmark = pytest.mark.slow
DESKTOP = {"width": 1280, "height": 800}
HELSINKI = ZoneInfo("Europe/Helsinki")
DAYCARE_PHONE = "+358401115555"
EARLIER = "Ensimmäinen tapaaminen: sovittiin tavoitteet."
MUM_FIRST = "Kiitos, harjoittelemme kotona!"
WELCOME = "Tervetuloa mukaan, Liisa!"


class Day:
    """The running practice and the browser contexts of its people; page errors fail the test."""

    def __init__(self, server: ServerProcess, browser: Browser) -> None:
        self.server = server
        self.browser = browser
        self.errors: list[str] = []
        self.contexts: list[BrowserContext] = []
        out = server.stdout_path.read_text(encoding="utf-8")
        admin = re.search(r"one-time admin enrollment link: (\S+)", out)
        twilio = re.search(r"Twilio-compatible server at (\S+) ", out)
        assert admin, out
        assert twilio, out
        self.admin_link = self.local(admin[1])
        self.twilio_url = twilio[1]

    def local(self, link: str) -> str:
        """The configured public URL is a placeholder; the test server listens elsewhere."""
        return self.server.base_url + link[link.index("/enroll/"):]

    def person(self, who: str, viewport: dict[str, int]) -> Page:
        context = self.browser.new_context(viewport=viewport, locale="fi-FI")  # type: ignore[arg-type]
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{who}: pageerror: {exc}"))
        page.on("console", lambda m: self.errors.append(f"{who}: console: {m.text}")
                if m.type == "error" else None)
        return page

    def texts_to(self, number: str, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.twilio_url}/_dev/messages") as r:  # noqa: S310
                bodies = [m["body"] for m in json.load(r)["messages"] if m["to"] == number]
            if bodies:
                return bodies
            time.sleep(0.2)
        pytest.fail(f"no text message reached {number}")


@pytest.fixture
def day(server_factory: Callable[..., ServerProcess], browser: Browser) -> Iterator[Day]:
    server = server_factory(
        "practice", module_args=("secure_msg", "run"),
        extra_toml="[notices]\nquiet_hours_start = \"00:00\"\nquiet_hours_end = \"00:00\"\n")
    d = Day(server, browser)
    yield d
    for context in d.contexts:
        context.close()
    assert d.errors == [], d.errors


def _enroll(page: Page, link: str, login: str, then: str) -> None:
    page.goto(link)
    page.get_by_label("Käyttäjätunnus").fill(login)
    page.get_by_label("Salasana", exact=True).fill(PARENT_PASSWORD)
    page.get_by_label("Salasana uudelleen").fill(PARENT_PASSWORD)
    page.get_by_role("button", name="Luo tunnus").click()
    page.locator("#recovery-key").wait_for(timeout=30_000)
    page.get_by_label("Olen tallentanut palautusavaimen").check()
    page.get_by_role("button", name="Jatka").click()
    expect(page.get_by_role("heading", name=then, level=1)).to_be_visible()


def _booklet_id(page: Page) -> str:
    page.wait_for_url(re.compile(r"#/b/[0-9a-f]{32}$"))
    return page.url.rsplit("/", 1)[1]


def _create(page: Page, title: str) -> str:
    page.get_by_label("Nimi (esimerkiksi lapsen etunimi)").fill(title)
    page.get_by_role("button", name="Luo", exact=True).click()
    booklet = _booklet_id(page)
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    return booklet


def _write(page: Page, text: str) -> None:
    page.get_by_label("Kirjoita viesti").fill(text)
    page.locator(".compose").get_by_role("button", name="Lähetä").click()


def _invite(page: Page, role: str, name: str, phone: str | None = None,
            until: str | None = None) -> str:
    form = page.locator(".invite-member")
    form.get_by_label("Rooli").select_option(role)
    form.get_by_label("Muille näkyvä nimi").fill(name)
    if until:
        form.get_by_label("Mukana asti").fill(until)
        form.get_by_label("Näkee").select_option("new")
    if phone:
        form.get_by_label("Matkapuhelinnumero").fill(phone)
        form.get_by_label("tekstiviestillä").check()
    form.get_by_role("button", name="Luo kutsulinkki").click()
    link = form.get_by_label(f"Kutsulinkki (anna se henkilölle; toimii kerran): {name}")
    expect(link).to_have_value(re.compile("/enroll/"))
    return link.input_value()


def _scan_qr(page: Page, name: str) -> str:
    """Show the invitation's QR code and read it from the screen's pixels."""
    page.get_by_role("button", name=f"Näytä QR-koodi: {name}").click()
    code = page.get_by_role("img", name=f"QR-koodi, kutsulinkki: {name}")
    expect(code).to_be_visible()
    shot = Image.open(io.BytesIO(code.screenshot(scale="device")))
    [found] = zxingcpp.read_barcodes(shot.convert("L"))
    return str(found.text)


def _open(page: Page, booklet: str) -> None:
    page.locator(f"[data-booklet='{booklet}'] a").first.click()
    page.locator("main[data-ready='true']").wait_for()


def _notes(page: Page) -> list[str]:
    return page.locator(".entry-note .text").all_inner_texts()


def test_a_practice_runs_a_day_in_the_browser(day: Day) -> None:
    tiina = _admin_and_therapist(day)
    aino = _create(tiina, "Aino")
    tiina.goto(day.server.base_url + "/#/")
    eetu = _create(tiina, "Eetu")
    assert aino != eetu
    tiina.goto(day.server.base_url + "/#/")
    _open(tiina, aino)
    mum, dad = _guardians_join(day, tiina, aino)
    _daycare_joins(day, tiina, mum, dad, aino)
    _sessions(day, tiina, mum, aino)
    tiina.goto(day.server.base_url + "/#/")
    expect(tiina.get_by_text("2 vihkoa")).to_be_visible()
    expect(tiina.locator(f"[data-booklet='{eetu}']").first).to_contain_text("Eetu")


def _admin_and_therapist(day: Day) -> Page:
    """The admin enrolls from the start-up link and invites the therapist, who enrolls."""
    admin = day.person("admin", DESKTOP)
    _enroll(admin, day.admin_link, "anna", then="Ylläpito")
    staff = admin.locator("form[data-form='staff-invite']")
    staff.get_by_label("Rooli").select_option("therapist")
    staff.get_by_label("Nimi").fill("Tiina T")
    staff.get_by_role("button", name="Luo kutsulinkki").click()
    link = admin.get_by_label("Kutsulinkki (anna se henkilölle; toimii kerran): Tiina T")
    expect(link).to_have_value(re.compile("/enroll/"))
    tiina = day.person("tiina", DESKTOP)
    _enroll(tiina, day.local(link.input_value()), "tiina", then="Työpöytä")
    return tiina


def _guardians_join(day: Day, tiina: Page, aino: str) -> tuple[Page, Page]:
    """A first note; the mother by the QR code at the first meeting, her first message asking
    nothing; the father of another household by a copied link. Both see the child's name and
    every earlier entry at once."""
    _write(tiina, EARLIER)
    expect(tiina.locator(".entry-note .text")).to_have_text([EARLIER])
    _invite(tiina, "guardian", "Äiti")
    scanned = _scan_qr(tiina, "Äiti")
    assert scanned.endswith("&via=qr"), scanned

    mum = day.person("mum", PHONE)
    enroll_in_browser(mum, day.local(scanned), "aiti")
    expect(mum.locator(f"[data-booklet='{aino}']")).to_contain_text("Aino")
    _open(mum, aino)
    expect(mum.get_by_role("heading", level=1)).to_have_text("Aino")
    expect(mum.locator(".entry-note .text")).to_have_text([EARLIER])
    _write(mum, MUM_FIRST)  # her first message: no security question
    expect(mum.locator(".entry-note .text")).to_have_text([EARLIER, MUM_FIRST])
    expect(mum.get_by_role("alertdialog")).to_have_count(0)
    # Scanned from the therapist's screen: verified in person, not only trusted on first use.
    mum.locator(".members summary").click()
    expect(mum.locator(".member", has_text="Tiina T")).to_contain_text("varmennettu")
    expect(mum.locator(".member", has_text="Tiina T")).not_to_contain_text("ei varmennettu")

    # A father of another household, by a copied link: the child's name and both entries.
    expect(tiina.locator(".entry-note .text")).to_have_text([EARLIER, MUM_FIRST])
    dad_link = _invite(tiina, "guardian", "Isä")
    assert dad_link.endswith("&via=link"), dad_link
    dad = day.person("dad", PHONE)
    enroll_in_browser(dad, day.local(dad_link), "isa")
    _open(dad, aino)
    expect(dad.get_by_role("heading", level=1)).to_have_text("Aino")
    expect(dad.locator(".entry-note .text")).to_have_text([EARLIER, MUM_FIRST])
    return mum, dad


def _daycare_joins(day: Day, tiina: Page, mum: Page, dad: Page, aino: str) -> None:
    """The daycare worker, by text message through the local Twilio server, waits for both
    guardians' approval; the therapist's next message names her once, signs her into the roster
    and shares the title; the family's messages then reach her with no question."""
    # The daycare worker, by text message through the local Twilio server.
    until = (datetime.now(HELSINKI).date() + timedelta(days=120)).isoformat()
    _invite(tiina, "caregiver", "Päiväkoti Liisa", phone="040 111 5555", until=until)
    [text] = day.texts_to(DAYCARE_PHONE)
    sent = re.search(r"https?://\S+/enroll/[A-Za-z0-9_-]{43}", text)
    assert sent, text
    assert "Aino" not in text, text
    liisa = day.person("liisa", PHONE)
    enroll_in_browser(liisa, day.local(sent[0]), "liisa")
    liisa.evaluate(f"() => {{ location.hash = '#/b/{aino}'; }}")
    expect(liisa.get_by_role("alert")).to_contain_text("Lapsen jokaisen huoltajan on hyväksyttävä")
    # Until both guardians approve, the server refuses her the booklet (Chromium logs the 403s).
    waiting = "liisa: console: Failed to load resource: the server responded with a status of 403"
    assert day.errors, "the 403s were expected"
    assert all(e.startswith(waiting) for e in day.errors), day.errors
    day.errors.clear()
    for guardian, status in ((mum, "pending_consent"), (dad, "active")):
        guardian.reload()
        guardian.locator("main[data-ready='true']").wait_for()
        request = guardian.locator(".consent-row").filter(has_text="Päiväkoti Liisa")
        expect(request).to_contain_text("(vain uudet viestit)")
        request.get_by_role("button", name="Hyväksy").click()
        expect(request).to_contain_text("Hyväksyit" if status == "pending_consent" else
                                        "on mukana")
        expect(request).to_have_attribute("data-status", status)

    # Her link carried no trust: the therapist's next message names her once and signs her
    # into the roster; the family's messages then reach her with no question.
    tiina.reload()
    tiina.locator("main[data-ready='true']").wait_for()
    _write(tiina, WELCOME)
    question = tiina.get_by_role("alertdialog")
    expect(question).to_contain_text("Päiväkoti Liisa")
    question.get_by_role("button", name="Lähetä").click()
    expect(tiina.locator(".entry-note .text")).to_have_text([EARLIER, MUM_FIRST, WELCOME])
    liisa.reload()
    liisa.locator("main[data-ready='true']").wait_for()
    expect(liisa.get_by_role("heading", level=1)).to_have_text("Aino")
    expect(liisa.locator(".entry-note .text")).to_have_text([WELCOME])
    mum.reload()
    mum.locator("main[data-ready='true']").wait_for()
    _write(mum, "Liisa, hän harjoittelee saksia.")
    expect(liisa.locator(".entry-note .text")).to_have_text(
        [WELCOME, "Liisa, hän harjoittelee saksia."])
    expect(mum.get_by_role("alertdialog")).to_have_count(0)


def _sessions(day: Day, tiina: Page, mum: Page, aino: str) -> None:
    """A period and a weekly series; the mother cancels one on her phone and the therapist's
    open desk shows it live; a past session marked attended moves the period bar."""
    # A period of 40 sessions and a weekly series that began two weeks ago.
    today = datetime.now(HELSINKI).date()
    section = tiina.locator("#appointments-hook[data-ready='true']")
    section.get_by_text("Varaa käyntejä ja muokkaa jaksoa").click()
    period = section.locator("form[data-form='period']")
    period.get_by_label("Alkaa").fill((today - timedelta(days=30)).isoformat())
    period.get_by_label("Päättyy").fill((today + timedelta(days=150)).isoformat())
    period.get_by_label("Myönnetyt käynnit").fill("40")
    period.get_by_label("Maksaja").select_option("kela")
    period.get_by_role("button", name="Tallenna jakso").click()
    status = tiina.locator("#appointments-hook .appts-status")
    expect(status).to_have_text("Jakso tallennettiin.")
    book = section.locator("form[data-form='schedule']")
    book.get_by_label("Päivä").fill((today - timedelta(days=14)).isoformat())
    book.get_by_label("Kellonaika").fill("10:00")
    book.get_by_label("Kesto minuutteina").fill("45")
    book.get_by_label("Montako viikoittaista käyntiä").fill("10")
    book.get_by_role("button", name="Varaa", exact=True).click()
    expect(status).to_have_text("10 viikoittaista käyntiä varattiin.")

    # The therapist's desk is open; the mother cancels next week's session on her phone.
    tiina.goto(day.server.base_url + "/#/")
    row = tiina.locator(f"[data-booklet='{aino}']").first
    expect(row).to_contain_text("Jakso 0/40")
    expect(row).not_to_contain_text("Perhe perui")
    mum.reload()
    mum.locator("main[data-ready='true']").wait_for()
    mum.get_by_role("button", name=re.compile("^Peru käynti")).first.click()
    mum.get_by_role("button", name="Kyllä, peru käynti").click()
    expect(mum.get_by_role("status").filter(has_text="peruttiin")).to_be_visible()
    expect(row).to_contain_text("Perhe perui käynnin (1)", timeout=5000)  # live, no reload

    # A past session marked attended: the period bar moves.
    _open(tiina, aino)
    expect(tiina.locator("#appointments-hook .period")).to_contain_text("Käytetty 0/40 käyntiä")
    to_mark = tiina.locator("#appointments-hook .appts-to-mark")
    to_mark.get_by_role("button", name=re.compile("^Merkitse käydyksi: ")).first.click()
    expect(tiina.locator("#appointments-hook .period")).to_contain_text("Käytetty 1/40 käyntiä")
    expect(tiina.locator("#appointments-hook").get_by_role("progressbar")
           ).to_have_accessible_name(re.compile(r"^Käytetty 1/40 käyntiä"))
