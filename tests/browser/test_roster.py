"""A family's first minute in Chromium (docs/protocol.md §6.6, §6.7): a guardian invited with a
link that carries trust sees the child's name and the earlier entries at once, and her first
message asks no security question; a member the server adds without the therapist's signed
roster is refused by the web inbox."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from secure_msg.client import Client, Profile

from .harness import PARENT_PASSWORD, World, enroll_in_browser, open_booklet, server_sql

pytestmark = pytest.mark.slow
EARLIER = "Ensimmäinen tapaaminen: sovittiin tavoitteet."


def _notes(world: World) -> list[str]:
    return [e.payload["text"] for e in world.call(world.t.read(world.booklet)) if e.kind == "note"]


def _write(page: Page, text: str) -> None:
    page.get_by_label("Kirjoita viesti").fill(text)
    page.locator(".compose").get_by_role("button", name="Lähetä").click()


def _invite(world: World, name: str, via: str, role: str = "guardian") -> str:
    link = world.call(world.t.invite(world.booklet, role, name=name, via=via))["link"]
    return world.server.base_url + link[link.index("/enroll/"):]


def test_an_invited_guardian_sees_the_title_and_earlier_entries_and_writes_without_a_question(
        world: World) -> None:
    """The QR link of the first meeting: no step by the therapist after inviting, and the
    mother's first message, to the therapist and a father who joined by a link too, asks
    nothing."""
    world.call(world.t.post(world.booklet, "note", text=EARLIER))
    father = Client(Profile(), world.http)  # type: ignore[arg-type]
    world.call(father.enroll(_invite(world, "Isä", "link"), "isa", PARENT_PASSWORD))
    context, page = world.page()
    enroll_in_browser(page, _invite(world, "Äiti", "qr"), "aiti")
    expect(page.locator(f"[data-booklet='{world.booklet}']")).to_contain_text("Aino")
    open_booklet(page, world.booklet)
    expect(page.get_by_role("heading", level=1)).to_have_text("Aino")
    expect(page.locator(".entry-note .text")).to_have_text([EARLIER])
    _write(page, "Hei kaikille!")
    expect(page.locator(".entry-note .text")).to_have_text([EARLIER, "Hei kaikille!"])
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    assert _notes(world) == [EARLIER, "Hei kaikille!"]
    assert [e.payload.get("text") for e in world.call(father.read(world.booklet))
            if e.kind == "note"] == [EARLIER, "Hei kaikille!"]
    context.close()


def test_a_member_the_server_adds_without_the_roster_signature_is_refused(world: World) -> None:
    """A direct write to the server's database makes an outsider a member of the booklet: the
    mother's post is refused with a warning naming them, and nothing is sealed or sent."""
    context, page = world.page()
    enroll_in_browser(page, _invite(world, "Äiti", "link"), "aiti")
    open_booklet(page, world.booklet)
    _write(page, "Eka")
    expect(page.locator(".entry-note .text")).to_have_text(["Eka"])

    other = world.call(world.t.create_booklet("Toinen"))
    outsider = Client(Profile(), world.http)  # type: ignore[arg-type]
    link = world.call(world.t.invite(other, "guardian", name="Vieras"))["link"]
    world.call(outsider.enroll(world.server.base_url + link[link.index("/enroll/"):], "vieras",
                               PARENT_PASSWORD))
    head = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/head"))
    server_sql(world.server, "INSERT INTO members (booklet_id, account_id, role, joined_at_ms,"
               " joined_seq) VALUES (?, ?, 'guardian', 1795000000000, ?)",
               bytes.fromhex(world.booklet), bytes.fromhex(outsider.profile.account_id),
               head["last_seq"])
    page.reload()
    page.locator("main[data-ready='true']").wait_for()
    _write(page, "SALAISUUS")
    warning = page.get_by_role("alert").filter(has_text="terapeutin allekirjoittamalla")
    expect(warning).to_contain_text("Vieras")
    expect(warning).to_contain_text("not-in-roster")
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    expect(page.get_by_label("Kirjoita viesti")).to_have_value("SALAISUUS")
    assert _notes(world) == ["Eka"]
    context.close()
