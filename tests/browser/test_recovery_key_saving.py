"""The recovery key can be copied and saved as a file, not only printed (issue 16): on a phone,
printing is rarely there."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import PARENT_PASSWORD, PHONE, World

pytestmark = pytest.mark.slow


def test_copy_and_save_the_recovery_key(world: World) -> None:
    """"Kopioi avain" puts exactly the key on the clipboard; "Tallenna tiedostona" downloads a
    .txt (a Blob URL, under the strict CSP) that holds the key and the login."""
    context = world.browser.new_context(viewport=PHONE, locale="fi-FI",
                                        permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.on("pageerror", lambda exc: world.errors.append(f"pageerror: {exc}"))
    page.goto(world.invite("Äiti"))
    page.get_by_label("Käyttäjätunnus").fill("aiti")
    page.get_by_label("Salasana", exact=True).fill(PARENT_PASSWORD)
    page.get_by_label("Salasana uudelleen").fill(PARENT_PASSWORD)
    page.get_by_role("button", name="Luo tunnus").click()
    key_box = page.locator("#recovery-key")
    key_box.wait_for(timeout=30_000)
    key = (key_box.text_content() or "").strip()
    assert len(key) > 20

    page.get_by_role("button", name="Kopioi avain").click()
    expect(page.get_by_role("status").filter(has_text="Palautusavain kopioitiin")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key

    with page.expect_download() as info:
        page.get_by_role("button", name="Tallenna tiedostona").click()
    download = info.value
    assert download.suggested_filename == "terapiavihko-palautusavain.txt"
    path = download.path()
    text = path.read_text(encoding="utf-8")
    assert f"Palautusavain: {key}" in text
    assert "Käyttäjätunnus: aiti" in text
    expect(page.get_by_role("status").filter(has_text="tallennettiin tiedostoon")).to_be_visible()
    page.get_by_label("Olen tallentanut palautusavaimen").check()
    page.get_by_role("button", name="Jatka").click()
    page.get_by_role("heading", name="Vihkot").wait_for()
    context.close()
