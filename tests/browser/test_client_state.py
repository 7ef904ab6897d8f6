"""The web inbox keeps its pins, checkpoints and sealed-to records sealed on the server
(docs/protocol.md §6.5): a shared computer and a second browser start from what the account
already checked, a server that serves an older copy is caught, and logging out in one tab logs
out the others at once."""

from __future__ import annotations

import os
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import closing

import pytest
from playwright.sync_api import Browser, Locator, Page, Request, expect

from secure_msg.client import Client, Profile
from secure_msg.crypto import keys
from secure_msg.testing.server_process import ServerProcess

from .harness import (
    PARENT_PASSWORD,
    LoopThread,
    World,
    enroll_in_browser,
    login_in_browser,
    open_booklet,
    server_sql,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def small_world(server_factory: Callable[..., ServerProcess], bg: LoopThread,
                browser: Browser) -> Iterator[World]:
    """The usual world on a server that keeps client states of at most 1 KiB."""
    w = World(server_factory(extra_toml="[limits]\nclient_state_bytes = 1024\n"), bg, browser)
    w.setup()
    yield w
    w.close()
    assert w.errors == [], w.errors


def _stored(world: World, account: str) -> tuple[int, bytes] | None:
    """The server's copy of an account's sealed state: (version, blob), or None."""
    with closing(sqlite3.connect(world.server.db_path, timeout=10)) as conn:
        row = conn.execute("SELECT version, blob FROM client_state WHERE account_id = ?",
                           (bytes.fromhex(account),)).fetchone()
    return (row[0], row[1]) if row else None


def _settled(world: World, account: str, quiet: float = 1.5) -> tuple[int, bytes] | None:
    """The server's copy once the page stopped writing it: unchanged for `quiet` seconds
    (three times the page's debounce)."""
    deadline = time.monotonic() + 20
    last, since = _stored(world, account), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _stored(world, account)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError("the page kept writing its state")


def _wait_stored_above(world: World, account: str, version: int) -> int:
    """Wait until the page wrote a version above `version` (writes are debounced)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        row = _stored(world, account)
        if row and row[0] > version:
            return row[0]
        time.sleep(0.1)
    raise AssertionError(f"no client state above version {version} was written")


def _ids(world: World) -> dict[str, str]:
    """Account ids by member name, as the therapist's client lists them."""
    return {m.name or "": m.account_id for m in world.call(world.t.members(world.booklet))}


def _row(page: Page, account: str) -> Locator:
    return page.locator(f".member[data-member='{account}']")


def _verify(page: Page, booklet: str, account: str) -> None:
    """Compare the safety number (as a person would) and mark the member verified."""
    page.evaluate("(h) => { location.hash = h; }", f"#/b/{booklet}/safety/{account}")
    page.get_by_role("button", name="Numerot täsmäävät: merkitse varmennetuksi").click()
    expect(page.get_by_role("status").filter(has_text="Olet varmentanut")).to_be_visible()
    page.evaluate("(h) => { location.hash = h; }", f"#/b/{booklet}")
    page.locator("main[data-ready='true']").wait_for()


def _write(page: Page, text: str) -> None:
    page.get_by_label("Kirjoita viesti").fill(text)
    page.locator(".compose").get_by_role("button", name="Lähetä").click()


def _logout(page: Page) -> None:
    page.get_by_role("button", name="Kirjaudu ulos").click()
    page.get_by_role("button", name="Kirjaudu", exact=True).wait_for()


def _swap_identity_key(world: World, account: str) -> None:
    """The server serves a key statement of its own making for `account`."""
    forged = keys.AccountKeys.generate(bytes.fromhex(account)).statement(int(time.time() * 1000))
    server_sql(world.server, "UPDATE accounts SET key_statement = ? WHERE id = ?",
               forged.encode(), bytes.fromhex(account))


def test_a_shared_computer_gets_back_its_pins_verifications_and_recipients(world: World) -> None:
    """On a shared computer the mother verifies the therapist and posts once, then logs out.
    A new shared-computer session shows the therapist verified and posts without asking; after
    the server swaps the therapist's key, the next session refuses it as a changed key instead
    of trusting it."""
    caregiver = Client(Profile(), world.http)  # type: ignore[arg-type]
    world.call(caregiver.enroll(world.invite("Liisa", role="caregiver"), "liisa",
                                PARENT_PASSWORD))
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    context.close()  # enrolled elsewhere: this computer keeps nothing of it
    world.approve("aiti", caregiver.profile.account_id)  # from her phone
    tiina = _ids(world)["Tiina T"]

    first, page = world.page()
    login_in_browser(page, world.server.base_url, "aiti", shared=True)
    open_booklet(page, world.booklet)
    _verify(page, world.booklet, tiina)
    _write(page, "Eka")  # no question: the roster vouches for Liisa (protocol §6.6)
    expect(page.locator(".entry-note .text")).to_have_text(["Eka"])
    _logout(page)
    first.close()

    second, page = world.page()
    login_in_browser(page, world.server.base_url, "aiti", shared=True)
    open_booklet(page, world.booklet)
    page.locator(".members summary").click()
    expect(_row(page, tiina)).to_contain_text("✓ varmennettu")
    _write(page, "Toka")
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Toka"])
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    _logout(page)
    second.close()

    _swap_identity_key(world, tiina)
    third, page = world.page()
    login_in_browser(page, world.server.base_url, "aiti", shared=True)
    open_booklet(page, world.booklet)
    expect(page.get_by_role("alert")).to_contain_text("Turva-avain on vaihtunut")
    expect(page.locator(".compose")).to_have_count(0)
    third.close()


def test_a_person_verified_in_one_browser_is_verified_in_another(world: World) -> None:
    """The mother verifies the therapist in one browser; when she logs in to another, the
    therapist is verified there too."""
    one, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    ids = _ids(world)
    before = _stored(world, ids["Äiti"])
    open_booklet(page, world.booklet)
    _verify(page, world.booklet, ids["Tiina T"])
    _wait_stored_above(world, ids["Äiti"], before[0] if before else 0)

    other, page2 = world.page()
    login_in_browser(page2, world.server.base_url, "aiti")
    open_booklet(page2, world.booklet)
    page2.locator(".members summary").click()
    expect(_row(page2, ids["Tiina T"])).to_contain_text("✓ varmennettu")
    one.close()
    other.close()


def test_an_older_copy_served_again_is_reported_and_written_over(world: World) -> None:
    """The server puts back an older copy of the mother's state (one from before she verified
    the therapist): her next visit says so in one status line, keeps the verification, and
    writes the state again above the highest version this device saw."""
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    ids = _ids(world)
    mum = ids["Äiti"]
    open_booklet(page, world.booklet)
    page.locator(".members summary").click()
    _wait_stored_above(world, mum, 0)
    old = _settled(world, mum)  # the listing's pins, in the copy that will be served again
    assert old is not None
    _verify(page, world.booklet, ids["Tiina T"])
    _wait_stored_above(world, mum, old[0])
    latest = _settled(world, mum)  # the page wrote all it had to (maybe more than once)
    assert latest is not None
    newest = latest[0]
    server_sql(world.server, "UPDATE client_state SET version = ?, blob = ? WHERE account_id = ?",
               old[0], old[1], bytes.fromhex(mum))

    page.goto(world.server.base_url + "/")
    page.get_by_role("heading", name="Vihkot").wait_for()
    notice = page.locator(".state-notice[role='status']")
    expect(notice).to_contain_text("vanhemman kopion")
    assert _wait_stored_above(world, mum, newest) == newest + 1
    open_booklet(page, world.booklet)
    page.locator(".members summary").click()
    expect(_row(page, ids["Tiina T"])).to_contain_text("✓ varmennettu")
    context.close()


def test_a_claimed_newer_copy_that_does_not_open_is_not_followed(world: World) -> None:
    """The server holds a copy at a version just below 2^53 that no key of the mother's opens:
    her next visit says the checks were not saved, writes no version taken from that number
    (it would spend the version space for every device), and keeps her verification."""
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    ids = _ids(world)
    mum = ids["Äiti"]
    _verify(page, world.booklet, ids["Tiina T"])
    _wait_stored_above(world, mum, 0)
    claimed = 2**53 - 2
    garbage = os.urandom(64)
    forged = (bytes([1, 0, 1, 0x40]) + bytes.fromhex(mum) + struct.pack(">Q", claimed)
              + os.urandom(12) + struct.pack(">I", len(garbage)) + garbage)
    server_sql(world.server, "UPDATE client_state SET version = ?, blob = ? WHERE account_id = ?",
               claimed, forged, bytes.fromhex(mum))

    page.goto(world.server.base_url + "/")
    page.get_by_role("heading", name="Vihkot").wait_for()
    notice = page.locator(".state-notice[role='status']")
    expect(notice).to_contain_text("ei tallennettu")
    page.wait_for_timeout(1500)  # longer than the write's debounce
    assert _stored(world, mum) == (claimed, forged)
    open_booklet(page, world.booklet)
    page.locator(".members summary").click()
    expect(_row(page, ids["Tiina T"])).to_contain_text("✓ varmennettu")
    context.close()


def test_logout_in_one_tab_logs_out_the_others_at_once_and_wipes_the_key_store(
    world: World,
) -> None:
    """Three tabs of one browser: the first logs out, and logout() resolves only once the key
    store is wiped (with the wipe held up a second by another transaction); the other two, one
    without BroadcastChannel, show the login screen at once and send nothing afterwards, not
    even the note typed in one, nor a logout of their own: they share the first tab's session,
    and a second logout could reach the server first and have the first tab's refused."""
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    logouts: list[int] = []
    page.on("response", lambda r: logouts.append(r.status) if r.url.endswith("/api/logout")
            else None)
    tab2 = context.new_page()
    tab2.add_init_script("delete window.BroadcastChannel;")  # the storage-event fallback
    tab3 = context.new_page()
    sent: list[str] = []

    def record(request: Request) -> None:
        if request.method != "GET":
            sent.append(f"{request.method} {request.url}")

    for tab in (tab2, tab3):
        tab.on("pageerror", lambda exc: world.errors.append(f"pageerror: {exc}"))
        tab.on("request", record)
        tab.goto(world.server.base_url + "/")
        tab.get_by_role("heading", name="Vihkot").wait_for()
    open_booklet(tab3, world.booklet)
    tab3.get_by_label("Kirjoita viesti").fill("Kesken")
    sent.clear()

    wiped_when_resolved, left = page.evaluate("""async () => {
        const open = () => new Promise((ok, fail) => {
            const req = indexedDB.open('secure-msg-keys', 1);
            req.onsuccess = () => ok(req.result);
            req.onerror = () => fail(req.error);
        });
        let wiped = false;  // observed only: set when the store's clear() succeeds
        const clear = IDBObjectStore.prototype.clear;
        IDBObjectStore.prototype.clear = function () {
            const req = clear.call(this);
            req.addEventListener('success', () => { wiped = true; });
            return req;
        };
        // A transaction that keeps the store busy for a second: the wipe waits behind it.
        const db = await open();
        const store = db.transaction('keys', 'readwrite').objectStore('keys');
        const until = performance.now() + 1000;
        const spin = () => { if (performance.now() < until) store.get('busy').onsuccess = spin; };
        spin();
        const session = await import('/static/app/session.mjs');
        await session.logout();
        const atResolve = wiped;
        const after = await open();
        return new Promise((ok) => {
            const count = after.transaction('keys').objectStore('keys').count();
            count.onsuccess = () => { ok([atResolve, count.result]); after.close(); db.close(); };
        });
    }""")
    assert wiped_when_resolved is True
    assert left == 0
    for tab in (tab2, tab3):
        expect(tab.get_by_role("button", name="Kirjaudu", exact=True)).to_be_visible(timeout=2000)
        expect(tab.get_by_text("Sinut on kirjattu ulos")).to_be_visible()
    tab3.wait_for_timeout(1000)  # longer than a pending state write would wait
    assert sent == []
    assert logouts == [204]
    assert tab3.evaluate("localStorage.getItem('secure-msg:session')") is None
    context.close()


def test_a_state_the_server_refuses_as_too_large_is_reported(small_world: World) -> None:
    """On a server that keeps at most 1 KiB, the mother's state outgrows it once she opens a
    booklet of four members: the inbox says, in its status line, that her checks were not
    saved there, and the server still holds her earlier copy."""
    world = small_world
    helpers = []
    for name in ("Liisa", "Mummo"):
        helper = Client(Profile(), world.http)  # type: ignore[arg-type]
        world.call(helper.enroll(world.invite(name, role="caregiver"), name.lower(),
                                 PARENT_PASSWORD))
        helpers.append(helper.profile.account_id)
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    for helper_id in helpers:  # from her phone: members now, so the booklet has four
        world.approve("aiti", helper_id)
    before = _settled(world, _ids(world)["Äiti"])  # her writes since enrolling are done
    open_booklet(page, world.booklet)  # pins all four
    page.wait_for_timeout(1500)  # the debounced write and the server's 413
    page.evaluate("() => { location.hash = '#/'; }")
    notice = page.locator(".state-notice[role='status']")
    expect(notice).to_contain_text("liian suuret")
    assert _stored(world, _ids(world)["Äiti"]) == before
    context.close()
    # Chromium logs every refused request; this one was the point of the test.
    world.errors[:] = [e for e in world.errors if "status of 413" not in e]
