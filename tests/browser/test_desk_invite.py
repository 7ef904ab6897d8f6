"""Inviting a family member in the browser (issue 16): name, mobile number and "send by text
message"; the local Twilio-compatible server receives the text with the very link shown on the
page, the invitation stays listed as waiting, and the guardian enrolls from the texted link.
Bad input is refused in words with nothing stored or sent."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from secure_msg.testing.pytest_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from secure_msg.testing.server_process import ServerProcess
from secure_msg.testing.twilio_server import RunningTwilioServer, serve_twilio

from .harness import (
    PASSWORD,
    LoopThread,
    World,
    enroll_in_browser,
    local_link,
    login_in_browser,
    open_booklet,
)

pytestmark = pytest.mark.slow
MUM = "+358401112222"
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def sms_world(server_factory: Callable[..., ServerProcess], bg: LoopThread,
              browser: Browser) -> Iterator[tuple[World, RunningTwilioServer]]:
    """The browser world, its server texting through the local Twilio server; no quiet hours,
    so the test means the same at any time of day."""

    async def start() -> RunningTwilioServer:
        return await serve_twilio("127.0.0.1", 0, account_sid=ACCOUNT_SID,
                                  auth_token=AUTH_TOKEN, callback_delay=0.01)

    twilio = bg.run(start())
    server = server_factory(
        extra_toml=(f"[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\n"
                    f"from_number = \"{FROM_NUMBER}\"\napi_base_url = \"{twilio.url}\"\n"
                    "[notices]\nquiet_hours_start = \"00:00\"\nquiet_hours_end = \"00:00\"\n"),
        env={"SECURE_MSG_TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    w = World(server, bg, browser)
    try:
        w.setup()
        yield w, twilio
        w.close()
        assert w.errors == [], w.errors
    finally:
        bg.run(twilio.close())


def texts_to(twilio: RunningTwilioServer, number: str, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bodies = [m.body for m in list(twilio.state.messages.values()) if m.to == number]
        if bodies:
            return bodies
        time.sleep(0.2)
    pytest.fail(f"no text message reached {number}")


def therapist_booklet(world: World, viewport: dict[str, int] | None = None) -> Page:
    if viewport:
        context = world.browser.new_context(viewport=viewport, locale="fi-FI")  # type: ignore[arg-type]
        page = context.new_page()
        page.on("pageerror", lambda exc: world.errors.append(f"pageerror: {exc}"))
    else:
        _, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    return page


def pending(world: World) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = world.call(world.t.api.call(
        "GET", f"/api/booklets/{world.booklet}/invitations"))["invitations"]
    return rows


def test_invite_by_text_message_reaches_twilio_and_the_guardian_enrolls(
    sms_world: tuple[World, RunningTwilioServer],
) -> None:
    world, twilio = sms_world
    page = therapist_booklet(world)
    form = page.locator(".invite-member")
    form.get_by_label("Rooli").select_option("guardian")
    form.get_by_label("Muille näkyvä nimi").fill("Äiti")
    form.get_by_label("Matkapuhelinnumero").fill("040 111 2222")
    form.get_by_label("tekstiviestillä").check()
    form.get_by_role("button", name="Luo kutsulinkki").click()

    link = form.get_by_label("Kutsulinkki (anna se henkilölle; toimii kerran): Äiti")
    # The link on screen carries the trust of protocol §6.7 in its fragment, which never
    # reaches the server; the server's text message sends the plain part only.
    expect(link).to_have_value(re.compile(
        r"/enroll/[A-Za-z0-9_-]{43}#i=[A-Za-z0-9_-]{43}&f=[0-9a-f]{32}&via=link$"))
    expect(link).to_be_focused()
    expect(form).to_contain_text("Lähetetään: tekstiviesti")
    expect(form.get_by_role("button", name="Kopioi linkki: Äiti")).to_be_visible()
    waiting = form.get_by_role("region", name="Odottavat kutsut")
    expect(waiting).to_contain_text("Äiti (huoltaja)")
    expect(waiting).to_contain_text("puhelin annettu")
    # the form is empty again, ready for the next person
    expect(form.get_by_label("Matkapuhelinnumero")).to_have_value("")

    shown = link.input_value()
    plain = shown.split("#")[0]
    # The same link as a QR code to scan at the first meeting (app/qr.mjs; tests/js/qr.test.mjs),
    # saying via=qr: read from her screen, the fingerprint is verified in person.
    show_qr = form.get_by_role("button", name="Näytä QR-koodi: Äiti")
    expect(show_qr).to_have_attribute("aria-expanded", "false")
    show_qr.click()
    code = form.get_by_role("img", name="QR-koodi, kutsulinkki: Äiti")
    expect(code).to_be_visible()
    expect(show_qr).to_have_attribute("aria-expanded", "true")
    drawn = page.evaluate("""async (link) => {
        const { encodeQr } = await import('/static/app/qr.mjs');
        const svg = document.querySelector('svg.qr');
        const d = svg.querySelector('path').getAttribute('d');
        const { dark } = encodeQr(link);
        const path = dark.flatMap((row, y) => row.flatMap(
          (on, x) => (on ? [`M${x + 4} ${y + 4}h1v1h-1z`] : [])));
        const side = dark.length + 8;
        return d === path.join('') && svg.getAttribute('viewBox') === `0 0 ${side} ${side}`;
    }""", shown.replace("&via=link", "&via=qr"))
    assert drawn
    show_qr.click()
    expect(code).to_be_hidden()

    [body] = texts_to(twilio, MUM)
    assert plain in body, body  # the very link on screen, and nothing of the booklet
    assert "#" not in body  # nor the fragment, with its secret
    assert "Aino" not in body

    # A second invitation: the first link stays on screen, both are waiting.
    form.get_by_label("Muille näkyvä nimi").fill("Isä")
    form.get_by_role("button", name="Luo kutsulinkki").click()
    expect(form.get_by_label("Kutsulinkki (anna se henkilölle; toimii kerran): Isä")
           ).to_be_visible()
    expect(link).to_have_value(shown)
    expect(waiting.get_by_role("listitem")).to_have_count(2)
    assert len(texts_to(twilio, MUM)) == 1  # Isä gave no number: nothing texted

    context, mum = world.page()
    enroll_in_browser(mum, local_link(world.server, shown), "aiti")
    context.close()
    assert [p["name"] for p in pending(world)] == ["Isä"]
    page.reload()
    page.locator("main[data-ready='true']").wait_for()
    waiting = page.get_by_role("region", name="Odottavat kutsut")
    expect(waiting.get_by_role("listitem")).to_have_count(1)
    expect(waiting).to_contain_text("Isä (huoltaja)")
    page.context.close()


def test_bad_invitations_are_refused_in_words_and_nothing_is_sent(
    sms_world: tuple[World, RunningTwilioServer],
) -> None:
    world, twilio = sms_world
    page = therapist_booklet(world, DESKTOP)
    form = page.locator(".invite-member")
    form.get_by_label("Muille näkyvä nimi").fill("Äiti")
    form.get_by_label("tekstiviestillä").check()
    form.get_by_role("button", name="Luo kutsulinkki").click()
    expect(form.get_by_role("alert")).to_have_text(
        "Anna matkapuhelinnumero, jotta linkki voidaan lähettää tekstiviestillä.")
    expect(form.get_by_label("Matkapuhelinnumero")).to_be_focused()

    form.get_by_label("Matkapuhelinnumero").fill("09 123 456")  # a landline: no texts
    form.get_by_role("button", name="Luo kutsulinkki").click()
    expect(form.get_by_role("alert")).to_have_text(
        "Numero ei kelpaa: anna matkapuhelinnumero, esimerkiksi 040 123 4567.")
    expect(form.get_by_label("Muille näkyvä nimi")).to_have_value("Äiti")  # kept to fix
    expect(form.locator(".invite-result")).to_have_count(0)
    assert pending(world) == []
    assert list(twilio.state.messages.values()) == []
    page.context.close()


def test_typed_invitation_and_links_survive_live_updates(
    sms_world: tuple[World, RunningTwilioServer],
) -> None:
    """The booklet re-renders on each live entry; the invitation form is the same element, so
    what the therapist typed and the links she made stay."""
    world, _ = sms_world
    page = therapist_booklet(world)
    form = page.locator(".invite-member")
    form.get_by_label("Muille näkyvä nimi").fill("Ukki")
    form.get_by_role("button", name="Luo kutsulinkki").click()
    link = form.get_by_label("Kutsulinkki (anna se henkilölle; toimii kerran): Ukki")
    expect(link).to_have_value(re.compile(r"/enroll/"))
    shown = link.input_value()
    form.get_by_label("Muille näkyvä nimi").fill("Mummo")
    form.get_by_label("Matkapuhelinnumero").fill("040 111 3333")
    for i in range(3):
        world.call(world.t.post(world.booklet, "note", text=f"Päivitys {i}"))
        expect(page.locator(".timeline")).to_contain_text(f"Päivitys {i}")
    expect(form.get_by_label("Muille näkyvä nimi")).to_have_value("Mummo")
    expect(form.get_by_label("Matkapuhelinnumero")).to_have_value("040 111 3333")
    expect(link).to_have_value(shown)
    page.context.close()


def test_a_caregivers_terms_are_asked_and_a_bad_end_is_refused(
    sms_world: tuple[World, RunningTwilioServer],
) -> None:
    """The end date and what she sees show for a caregiver only. With no date the membership
    runs to the end of the therapy period, and with no period set that is refused in words, as
    is a date already past; nothing is stored. A future date makes the invitation, with the
    terms the guardians will be asked to approve."""
    world, _ = sms_world
    page = therapist_booklet(world, DESKTOP)
    form = page.locator(".invite-member")
    until = form.get_by_label("Mukana asti")
    expect(until).to_be_hidden()
    form.get_by_label("Rooli").select_option("caregiver")
    expect(until).to_be_visible()
    expect(form.get_by_label("Näkee")).to_have_value("new")
    form.get_by_label("Muille näkyvä nimi").fill("Päiväkoti")
    refused = ("Päättymispäivä ei kelpaa: anna tuleva päivämäärä tai aseta vihkoon ensin "
               "terapiajakso.")
    for day in ("", "2020-01-31"):
        until.fill(day)
        form.get_by_role("button", name="Luo kutsulinkki").click()
        expect(form.get_by_role("alert")).to_have_text(refused)
    assert pending(world) == []
    until.fill("2099-03-31")
    form.get_by_label("Näkee").select_option("history")
    form.get_by_role("button", name="Luo kutsulinkki").click()
    link = form.get_by_label("Kutsulinkki (anna se henkilölle; toimii kerran): Päiväkoti")
    # A caregiver's link stays plain: the guardians' consent decides what she reads (§5.1).
    expect(link).to_have_value(re.compile(r"/enroll/[A-Za-z0-9_-]{43}$"))
    expect(until).to_be_visible()  # the form keeps the role for the next caregiver
    with closing(sqlite3.connect(world.server.db_path)) as db:
        terms = db.execute("SELECT until_ms, scope FROM caregiver_terms").fetchall()
    end = datetime(2099, 4, 1, tzinfo=ZoneInfo("Europe/Helsinki"))  # the end of 31.3. there
    assert terms == [(int(end.timestamp() * 1000), "history")]
    page.context.close()
    world.errors[:] = [e for e in world.errors if "422" not in e]
