"""What the inbox keeps out of the server's hands and out of the browser's memory: an entry is what
its author signed (the server's JSON cannot relabel or swap it); decrypted titles stay out of the
page title, invitation tokens out of the address bar, and decrypted files out of lingering blob
URLs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from .harness import (
    PASSWORD,
    World,
    enroll_in_browser,
    login_in_browser,
    open_booklet,
)

pytestmark = pytest.mark.slow


def _tamper_entries(route: Route, change: Any) -> None:
    """Answer the real server's entry page with `change` applied to its JSON."""
    response = route.fetch()
    page = response.json()
    change(page["entries"])
    route.fulfill(response=response, body=json.dumps(page))


def test_a_server_cannot_relabel_or_swap_signed_entries(world: World) -> None:
    """The server's JSON relabels the parent's note as a notice and swaps two homework entries'
    ids: all three show as entries that could not be opened, so no task can be marked done under
    the other's id; the therapist's real notice names its author."""
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    parent_id = next(m.account_id for m in world.call(world.t.members(world.booklet))
                     if m.role == "guardian")
    world.call(world.t.grant_history(world.booklet, parent_id))  # the title, so only lies fail
    first = world.call(world.t.post(world.booklet, "homework", task="Leikkaa",
                                    frequency="päivittäin"))
    second = world.call(world.t.post(world.booklet, "homework", task="Lue",
                                     frequency="päivittäin"))
    world.call(world.t.post(world.booklet, "system", text="Tapaaminen siirtyy"))
    swap = {first["entry_id"]: second["entry_id"], second["entry_id"]: first["entry_id"]}

    def lie(entries: list[dict[str, Any]]) -> None:
        for e in entries:
            if e["author_id"] == parent_id:
                e["kind"] = 6  # "system": once shown as a notice without an author
            e["entry_id"] = swap.get(e["entry_id"], e["entry_id"])

    page.route(re.compile(rf"/api/booklets/{world.booklet}/entries\?"),
               lambda r: _tamper_entries(r, lie))
    page.reload()
    open_booklet(page, world.booklet)
    page.get_by_label("Kirjoita viesti").fill("Kotona sujui hyvin")
    page.get_by_role("button", name="Lähetä", exact=True).click()
    errors = page.locator(".entry-error")
    expect(errors).to_have_count(3)
    expect(errors.filter(has_text="Tätä merkintää ei voitu avata (malformed)")).to_have_count(3)
    expect(page.locator(".task")).to_have_count(0)
    notice = page.locator(".entry-system")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("Ilmoitus: Tapaaminen siirtyy")
    expect(notice.locator(".author")).to_have_text("Tiina T")
    context.close()


def test_the_booklet_title_stays_out_of_the_page_title(world: World) -> None:
    """Chromium keeps page titles in its history: the decrypted title is shown in the heading
    only, and the page title stays the app's name."""
    context, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    expect(page.get_by_role("heading", level=1)).to_have_text("Aino")
    assert page.title() == "Terapiavihko"
    context.close()


def test_an_invitation_token_leaves_the_address_bar_at_once(world: World) -> None:
    """The enrollment form shows with the token already gone from the address (and so from the
    history entry); enrollment still works from memory. Opened while logged in, a link is dropped
    from the address as well."""
    context, page = world.page()
    link = world.invite("Äiti")
    token = link.rsplit("/", 1)[1]
    page.goto(link)
    expect(page.get_by_label("Käyttäjätunnus")).to_be_visible()
    assert token not in page.evaluate("location.href")
    assert token not in page.url
    enroll_in_browser(page, link, "aiti")

    other = world.invite("Isä")
    page.goto(other)
    page.get_by_role("heading", name="Vihkot").wait_for()
    assert other.rsplit("/", 1)[1] not in page.evaluate("location.href")
    context.close()


def test_documents_are_saved_from_a_blob_made_on_click_under_a_clean_name(
    world: World, tmp_path: Path,
) -> None:
    """Rendering a document makes no blob URL (re-renders used to leak one each); clicking saves
    it under a name without path separators, control or bidi characters, and the URL is revoked
    soon after."""
    data = b"Kotitehtavat viikolle 12"
    world.call(world.t.post(world.booklet, "document",
                            name="koti/ohje\u202efdp.exe\u0007\u2066.pdf",
                            media_type="application/pdf", data=base64.b64encode(data).decode()))
    context, page = world.page()
    page.clock.install()
    page.add_init_script("""(() => {
        const live = window.__blobUrls = new Set();
        const create = URL.createObjectURL, revoke = URL.revokeObjectURL;
        URL.createObjectURL = (blob) => { const u = create(blob); live.add(u); return u; };
        URL.revokeObjectURL = (u) => { live.delete(u); revoke(u); };
    })()""")
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    page.get_by_label("Kirjoita viesti").fill("Liitteenä ohje")  # one more render
    page.locator(".compose").get_by_role("button", name="Lähetä").click()
    expect(page.locator(".entry-note .text").last).to_have_text("Liitteenä ohje")
    assert page.evaluate("window.__blobUrls.size") == 0

    # sanitiseFilename (docs/protocol.md §4.7): a path separator becomes "_", the rest is dropped.
    button = page.get_by_role("button", name="koti_ohjefdp.exe.pdf", exact=True)
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "koti_ohjefdp.exe.pdf"
    saved = tmp_path / "saved"
    download.save_as(saved)
    assert saved.read_bytes() == data
    assert page.evaluate("window.__blobUrls.size") == 1
    page.clock.fast_forward("00:31")
    assert page.evaluate("window.__blobUrls.size") == 0
    context.close()
