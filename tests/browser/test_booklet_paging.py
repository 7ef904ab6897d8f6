"""A long booklet opens at its newest entries with the write box in reach (issue 16): earlier
entries come on scroll or by a button, and "jump to newest" brings the reader back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import PHONE, World, enroll_in_browser, open_booklet

pytestmark = pytest.mark.slow

ENTRIES = 120
PAGE = 50
DESKTOP = {"width": 1280, "height": 800}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_long_booklet_opens_at_the_newest_entry(world: World, viewport: dict[str, int]) -> None:
    """On a phone and a desktop, the newest of 120 entries and the write box are on the first
    screen, the first page (50) is shown; scrolling to the top shows earlier ones with the
    reader's place kept, the button shows the rest, and "Uusimpaan merkintään" goes back to
    the newest."""
    context, page = world.page()
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    for i in range(ENTRIES):
        world.call(world.t.post(world.booklet, "note", text=f"Merkintä {i}"))
    open_booklet(page, world.booklet)
    entries = page.locator(".timeline > li")
    expect(entries).to_have_count(PAGE)
    newest = page.locator(".entry-note .text", has_text=f"Merkintä {ENTRIES - 1}")
    expect(newest).to_be_in_viewport()
    expect(page.get_by_label("Kirjoita viesti")).to_be_in_viewport()
    jump = page.get_by_role("button", name="Uusimpaan merkintään")
    expect(jump).to_be_hidden()

    # Near the top, the next page comes by itself, and the entry read before stays in view.
    first_shown = page.locator(".entry-note .text", has_text=f"Merkintä {ENTRIES - PAGE}")
    first_shown.scroll_into_view_if_needed()
    page.mouse.wheel(0, -400)
    expect(entries).to_have_count(2 * PAGE)
    expect(first_shown).to_be_in_viewport()
    expect(jump).to_be_visible()

    earlier = page.get_by_role("button", name="Näytä aiemmat merkinnät")
    earlier.focus()
    page.keyboard.press("Enter")
    expect(entries).to_have_count(ENTRIES + 1)  # and the title, which her link carried
    expect(earlier).to_be_hidden()
    assert page.locator(".entry-note .text").first.text_content() == "Merkintä 0"

    jump.click()
    expect(newest).to_be_in_viewport()
    expect(page.get_by_label("Kirjoita viesti")).to_be_focused()
    expect(jump).to_be_hidden()
    context.close()
