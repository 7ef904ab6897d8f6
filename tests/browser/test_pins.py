"""Pins and new recipients in the web inbox (docs/protocol.md §6.4): a parent's post that would
reach a newly joined, unverified caregiver asks first, naming them; a member the server relabels
as the therapist reads "first seen as …", and their homework does not count as the therapist's."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from secure_msg.client import Client, Profile
from secure_msg.client.http import b64d, b64e
from secure_msg.clock import ms_to_iso
from secure_msg.crypto import envelope
from secure_msg.crypto.envelope import KIND_IDS
from secure_msg.crypto.payloads import encode_payload

from .harness import (
    PARENT_PASSWORD,
    World,
    confirm_newcomers,
    enroll_in_browser,
    open_booklet,
    server_sql,
)

pytestmark = pytest.mark.slow


def _notes(world: World) -> list[str]:
    """The notes stored on the server, as the therapist reads them."""
    return [e.payload["text"] for e in world.call(world.t.read(world.booklet)) if e.kind == "note"]


def _write(page: Page, text: str) -> None:
    page.get_by_label("Kirjoita viesti").fill(text)
    page.locator(".compose").get_by_role("button", name="Lähetä").click()


def _caregiver_id(world: World) -> str:
    """The newest caregiver waiting for consent, as the therapist's client lists them."""
    return str(world.call(world.t.caregivers(world.booklet))[0]["account_id"])


def test_a_post_that_would_reach_a_new_unverified_caregiver_asks_first(world: World) -> None:
    """The parent has written before (to the therapist). Once a caregiver joins, the next post
    names her and waits: Cancel sends nothing and keeps the text; Send posts; the post after
    that asks nothing. A booklet without the therapist's signed roster and plain links: the
    only place §6.4's question remains for a parent (protocol §6.6)."""
    server_sql(world.server, "DELETE FROM booklet_rosters")
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti", via=None), "aiti")
    open_booklet(page, world.booklet)
    _write(page, "Eka")
    confirm_newcomers(page, "Tiina T")
    expect(page.locator(".entry-note .text")).to_have_text(["Eka"])

    other, page2 = world.page()
    enroll_in_browser(page2, world.invite("Liisa", role="caregiver", via=None), "liisa")
    other.close()
    world.approve("aiti", _caregiver_id(world), roster=False)
    page.reload()
    page.locator("main[data-ready='true']").wait_for()

    _write(page, "Toka")
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text(
        "Tämä viesti menee ensimmäistä kertaa myös seuraaville: Liisa (hoitaja).")
    expect(question).not_to_contain_text("Tiina")
    compare = re.compile(r"Vertaa turvanumeroa\W+Liisa \(hoitaja\)")
    expect(question.get_by_role("link", name=compare)).to_be_visible()
    question.get_by_role("button", name="Peruuta").click()
    expect(question).to_have_count(0)
    expect(page.get_by_label("Kirjoita viesti")).to_have_value("Toka")
    assert _notes(world) == ["Eka"]

    page.locator(".compose").get_by_role("button", name="Lähetä").click()
    confirm_newcomers(page, "Liisa")
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Toka"])
    assert _notes(world) == ["Eka", "Toka"]

    _write(page, "Kolmas")
    expect(page.locator(".entry-note .text")).to_have_text(["Eka", "Toka", "Kolmas"])
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    assert _notes(world) == ["Eka", "Toka", "Kolmas"]
    context.close()


def _homework_by(world: World, author: Client) -> dict[str, Any]:
    """A homework entry signed by `author` (a parent) and sealed to every member, linked after the
    booklet's last entry: the server refuses to store it, so it exists only in this listing."""
    head = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/head"))
    members = world.call(world.t.members(world.booklet))
    assert author.keys is not None
    entry_id, created_at, seq = os.urandom(16), int(time.time() * 1000), head["last_seq"] + 1
    sealed = envelope.seal_entry(
        author.keys, booklet_id=bytes.fromhex(world.booklet), entry_id=entry_id,
        kind=KIND_IDS["homework"], sequence=seq, prev_hash=b64d(head["last_hash"]),
        created_at=created_at,
        plaintext=encode_payload("homework", task="Siivoa", frequency="joka päivä"),
        recipients=[(bytes.fromhex(m.account_id), m.encryption_key) for m in members])
    return {"seq": seq, "entry_id": entry_id.hex(), "author_id": author.profile.account_id,
            "kind": KIND_IDS["homework"], "created_at": ms_to_iso(created_at),
            "received_at": ms_to_iso(created_at), "envelope": b64e(sealed),
            "entry_hash": b64e(envelope.entry_hash(sealed))}


def test_a_parent_relabelled_as_the_therapist_is_shown_as_first_seen_and_cannot_set_homework(
    world: World,
) -> None:
    """The mother's page first sees the father as a guardian. When the server then lists him as
    the therapist, under her name, his row says who he was first seen as, and a homework entry he
    signed is shown as an error, not as a task."""
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    father = Client(Profile(), world.http)  # type: ignore[arg-type]
    world.call(father.enroll(world.invite("Isä"), "isa", PARENT_PASSWORD))
    father_id = father.profile.account_id
    open_booklet(page, world.booklet)
    row = page.locator(f"[data-member='{father_id}']")
    expect(row).to_contain_text("Isä")
    expect(row).not_to_contain_text("ensin nähty")

    def relabel(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        for m in body["members"]:
            if m["account_id"] == father_id:
                m["role"], m["name"] = "therapist", "Tiina T"
        route.fulfill(response=response, body=json.dumps(body))

    homework = _homework_by(world, father)

    def add_homework(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        # The newest page (`before=`, issue 16) lists it too: it is the booklet's last entry.
        found = re.search(r"since=(\d+)", route.request.url)
        since = int(found.group(1)) if found else 0
        if since < homework["seq"]:
            body["entries"].append(homework)
            body["last_seq"] = max(body["last_seq"], homework["seq"])
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(rf"/api/booklets/{world.booklet}/members"), relabel)
    page.route(re.compile(rf"/api/booklets/{world.booklet}/entries\?"), add_homework)
    page.reload()
    page.locator("main[data-ready='true']").wait_for()
    first_seen = "Tiina T (terapeutti) — ensin nähty nimellä Isä (huoltaja)"
    expect(row.locator(".member-name")).to_have_text(first_seen)
    expect(page.locator(".task")).to_have_count(0)
    error = page.locator(".entry-error")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("wrong-author")
    expect(error.locator(".author")).to_have_text(first_seen)
    context.close()
