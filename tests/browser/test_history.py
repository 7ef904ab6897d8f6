"""The inbox checks a booklet's hash chain (docs/protocol.md §4.6): a server that leaves entries
out of a parent's listing, or serves another entry where this device saw one before, gets a
warning on the booklet, in the UI's language, and the entries that open are still shown."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from secure_msg.client.http import b64d, b64e
from secure_msg.clock import ms_to_iso
from secure_msg.crypto import envelope
from secure_msg.crypto.envelope import KIND_IDS
from secure_msg.crypto.payloads import encode_payload

from .harness import World, enroll_in_browser, open_booklet

pytestmark = pytest.mark.slow

Entries = list[dict[str, Any]]


def _serve(page: Page, world: World, change: Callable[[Entries], Entries]) -> None:
    """From now on the parent's entry pages are the real server's with `change` applied."""

    def handle(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["entries"] = change(body["entries"])
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(rf"/api/booklets/{world.booklet}/entries\?"), handle)


def _parent_with_notes(world: World, page: Page, *texts: str) -> None:
    """The parent enrolls in `page`, gets the title granted, then the therapist posts `texts`
    (sequences 2, 3, …, all sealed to the parent)."""
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    parent_id = next(m.account_id for m in world.call(world.t.members(world.booklet))
                     if m.role == "guardian")
    world.call(world.t.grant_history(world.booklet, parent_id))
    for text in texts:
        world.call(world.t.post(world.booklet, "note", text=text))


def _checkpoint(page: Page, world: World) -> Any:
    """This device's checkpoint of the booklet, as the page stored it beside its pins."""
    return page.evaluate("""(booklet) => {
        const me = JSON.parse(localStorage.getItem('secure-msg:session')).account.id;
        return JSON.parse(localStorage.getItem(`secure-msg:checkpoints:${me}`))[booklet];
    }""", world.booklet)


def _warning(page: Page) -> Any:
    return page.locator(".history-warning[role='alert']")


def test_entries_left_out_of_the_listing_are_reported_until_it_adds_up(world: World) -> None:
    """An honest listing shows no warning. With entries 3 and 4 left out, the warning names them
    (in Finnish, then in English after a language change) and the entries around them still
    show; it stays through a live update while they are missing and goes once a read adds up."""
    context, page = world.page()
    _parent_with_notes(world, page, "Eka", "Toka", "Kolmas", "Neljäs")
    open_booklet(page, world.booklet)
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Toka", "Kolmas", "Neljäs"])
    expect(_warning(page)).to_be_hidden()

    _serve(page, world, lambda entries: [e for e in entries if e["seq"] not in (3, 4)])
    page.reload()  # back into the booklet, with this device's checkpoint
    page.locator("main[data-ready='true']").wait_for()
    warning = _warning(page)
    expect(warning).to_be_visible()
    expect(warning.get_by_role("heading")).to_have_text("Palvelimen kopio tästä vihkosta ei täsmää")
    expect(warning.locator("li")).to_have_text(["Merkinnät 3–4 puuttuvat."])
    expect(warning).to_contain_text("Kerro asiasta terapeutillesi.")
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Neljäs"])

    page.locator("button.lang[lang='en']").click()
    page.locator("main[data-ready='true']").wait_for()
    expect(_warning(page).locator("li")).to_have_text(["Entries 3–4 are missing."])
    expect(_warning(page)).to_contain_text("Tell your therapist; do not rely on this booklet")

    page.locator("html[data-live='ready']").wait_for()
    world.call(world.t.post(world.booklet, "note", text="Viides"))
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Neljäs", "Viides"])
    expect(_warning(page).locator("li")).to_have_text(["Entries 3–4 are missing."])

    page.unroute(re.compile(rf"/api/booklets/{world.booklet}/entries\?"))
    world.call(world.t.post(world.booklet, "note", text="Kuudes"))
    expect(page.locator(".entry-note .text")).to_have_text(
        ["Eka", "Toka", "Kolmas", "Neljäs", "Viides", "Kuudes"])
    expect(_warning(page)).to_be_hidden()
    context.close()


def _fork(world: World, seq: int, text: str) -> dict[str, Any]:
    """Another note at `seq`, signed by the therapist and sealed to every member, linked to the
    same predecessor as the stored one: what a server colluding in a fork would serve. The
    server refuses to store it (its sequence is taken), so it exists only in this listing."""
    listing = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/entries",
                                          params={"since": str(seq - 2), "limit": "1"}))
    prev_hash = envelope.entry_hash(b64d(listing["entries"][0]["envelope"]))
    members = world.call(world.t.members(world.booklet))
    assert world.t.keys is not None
    entry_id, created_at = os.urandom(16), int(time.time() * 1000)
    sealed = envelope.seal_entry(
        world.t.keys, booklet_id=bytes.fromhex(world.booklet), entry_id=entry_id,
        kind=KIND_IDS["note"], sequence=seq, prev_hash=prev_hash, created_at=created_at,
        plaintext=encode_payload("note", text=text),
        recipients=[(bytes.fromhex(m.account_id), m.encryption_key) for m in members])
    return {"seq": seq, "entry_id": entry_id.hex(), "author_id": world.t.profile.account_id,
            "kind": KIND_IDS["note"], "created_at": ms_to_iso(created_at),
            "received_at": ms_to_iso(created_at), "envelope": b64e(sealed),
            "entry_hash": b64e(envelope.entry_hash(sealed))}


def test_another_entry_where_this_device_saw_one_is_a_changed_history(world: World) -> None:
    """The parent's page has seen entries up to 3 (its checkpoint). Served a validly signed
    other entry 3 after that, the page shows it (it opens) under a "changed since you last
    looked" warning, and the checkpoint stays the entry it saw."""
    context, page = world.page()
    _parent_with_notes(world, page, "Eka", "Toka")
    open_booklet(page, world.booklet)
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Toka"])
    seen = _checkpoint(page, world)
    assert seen["seq"] == 3
    expect(_warning(page)).to_be_hidden()

    fork = _fork(world, 3, "Toinen versio")
    _serve(page, world, lambda entries: [fork if e["seq"] == 3 else e for e in entries])
    page.reload()  # back into the booklet, with this device's checkpoint
    page.locator("main[data-ready='true']").wait_for()
    expect(_warning(page).locator("li")).to_have_text(
        ["Merkintä 3 on muuttunut sen jälkeen, kun katsoit vihkoa viimeksi."])
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Toinen versio"])
    assert _checkpoint(page, world) == seen
    context.close()
