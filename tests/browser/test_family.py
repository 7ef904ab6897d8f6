"""A parent in Chromium and a therapist with the Python client share one booklet, both ways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import World, enroll_in_browser, login_in_browser, open_booklet

pytestmark = pytest.mark.slow
NOTE = "Harjoiteltiin saksilla leikkaamista. Hienoa työtä!"
TASK = "Leikkaa viivaa pitkin"
REPLY = "Kiitos! Kotona sujui hyvin."


def test_parent_enrolls_reads_logs_homework_replies_and_logs_in_elsewhere(world: World) -> None:
    """Enroll from a link; read the therapist's note and homework; log the homework and reply;
    the Python client decrypts both; a fresh browser context logs in and shows the same history."""
    context, page = world.page()
    recovery_key = enroll_in_browser(page, world.invite("Äiti"), "aiti")
    assert len(recovery_key) == 44
    assert recovery_key.count("-") == 8
    parent_id = next(m.account_id for m in world.call(world.t.members(world.booklet))
                     if m.role == "guardian")
    assert world.call(world.t.grant_history(world.booklet, parent_id)) == 1
    world.call(world.t.post(world.booklet, "note", text=NOTE))
    homework = world.call(
        world.t.post(world.booklet, "homework", task=TASK, frequency="päivittäin"))

    page.reload()
    item = page.locator(f"[data-booklet='{world.booklet}']")
    expect(item).to_contain_text("Aino")
    expect(item).to_contain_text("3 lukematonta merkintää")  # announced to screen readers
    open_booklet(page, world.booklet)
    expect(page.get_by_role("heading", level=1)).to_have_text("Aino")
    expect(page.locator(".entry-note .text")).to_have_text(NOTE)
    card = page.locator(".task", has_text=TASK)
    expect(card.locator(".summary")).to_have_text("Ei tehty viimeisen 7 päivän aikana")

    card.get_by_role("button", name="Tehty tänään – miten meni?").click()
    card.get_by_label("Meni hyvin").check()
    card.get_by_label("Lisättävää? (vapaaehtoinen)").fill("nauroi")
    card.get_by_role("button", name="Tallenna").click()
    # no question before her first entry: the therapist's signed roster vouches (protocol §6.6)
    expect(page.locator(".task .summary")).to_have_text("Tehty kerran viimeisen 7 päivän aikana")
    page.get_by_label("Kirjoita viesti").fill(REPLY)
    page.get_by_role("button", name="Lähetä", exact=True).click()
    expect(page.locator(".entry-note .text").last).to_have_text(REPLY)

    entries = world.call(world.t.read(world.booklet))
    assert [e.kind for e in entries] == ["title", "note", "homework", "homework-log", "note"]
    log, reply = entries[3], entries[4]
    assert log.author_id == parent_id
    assert log.payload["homework"] == homework["entry_id"]
    assert log.payload["done"] is True
    assert log.payload["how"] == "Meni hyvin – nauroi"
    assert reply.author_id == parent_id
    assert reply.payload["text"] == REPLY
    world.call(world.t.mark_read(world.booklet, reply.seq))

    other, page2 = world.page()  # another browser: nothing stored, the password opens the keys
    login_in_browser(page2, world.server.base_url, "aiti")
    open_booklet(page2, world.booklet)
    expect(page2.locator(".entry-note .text")).to_have_text([NOTE, REPLY])
    expect(page2.locator(".entry-log")).to_contain_text("Meni hyvin – nauroi")
    expect(page2.locator(".task .summary")).to_have_text("Tehty kerran viimeisen 7 päivän aikana")
    expect(page2.locator(".entry-note").last.locator(".receipt")).to_contain_text("Tiina")
    other.close()
    context.close()


def test_a_phone_with_its_clock_days_ahead_is_told_to_fix_it_and_nothing_is_posted(
    world: World,
) -> None:
    """The server refuses an entry dated more than a day ahead; the parent reads why in plain
    words (not a generic error), and the booklet gains nothing."""
    context, page = world.page()
    enroll_in_browser(page, world.invite("Isä"), "isa")
    parent_id = next(m.account_id for m in world.call(world.t.members(world.booklet))
                     if m.role == "guardian")
    world.call(world.t.grant_history(world.booklet, parent_id))
    page.reload()
    open_booklet(page, world.booklet)
    before = len(world.call(world.t.read(world.booklet)))
    page.evaluate("""() => {  // this document's clock runs three days fast from now on
        const real = Date.now.bind(Date);
        Date.now = () => real() + 3 * 86400000;
    }""")
    page.get_by_label("Kirjoita viesti").fill("Kello edellä")
    page.get_by_role("button", name="Lähetä", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("päivämäärä tai kellonaika on väärin")
    assert len(world.call(world.t.read(world.booklet))) == before
    context.close()
    expected = "console: Failed to load resource: the server responded with a status of 422"
    assert sum(e.startswith(expected) for e in world.errors) == 1, world.errors  # that refusal
    world.errors[:] = [e for e in world.errors if not e.startswith(expected)]
