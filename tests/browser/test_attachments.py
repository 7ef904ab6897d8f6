"""Files in the web inbox (issue 17 item 1; docs/protocol.md §4.5 second form, §4.7, §10.6):
attached in the write box, encrypted in Chromium and read by the Python client byte for byte;
posted by the Python client and opened in Chromium byte for byte, images previewed; forbidden
types and oversize files refused before any upload; hostile names shown and saved sanitised; a
failed upload keeps the text and the files; a blob that fails a check saves nothing; 25 MB."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, Route, expect

from secure_msg.client.attachments import post_files, save_files, upload_file
from secure_msg.crypto.attachments import sanitise_filename

from .harness import PASSWORD, World, login_in_browser, open_booklet

pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n"
HOSTILE = "koti/ohje\\l\u202efdp.exe\u0007\u2066.pdf"
HOSTILE_SAVED = "koti_ohje_lfdp.exe.pdf"


def jpeg(page: Page) -> bytes:
    """A real JPEG, drawn and encoded by Chromium (no imaging library here)."""
    b64 = page.evaluate("""async () => {
        const c = document.createElement('canvas'); c.width = 40; c.height = 30;
        const g = c.getContext('2d'); g.fillStyle = '#2f6b5a'; g.fillRect(0, 0, 40, 30);
        g.fillStyle = '#e2c27a'; g.fillRect(10, 5, 20, 20);
        const blob = await new Promise((ok) => c.toBlob(ok, 'image/jpeg', 0.9));
        const b = new Uint8Array(await blob.arrayBuffer());
        let s = ''; for (const x of b) s += String.fromCharCode(x);
        return btoa(s);
    }""")
    return base64.b64decode(b64)


def blob_uploads(page: Page) -> list[str]:
    """Every request to a blob upload the page makes, from now on."""
    seen: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and "/blobs" in request.url:
            seen.append(request.url)
    page.on("request", record)
    return seen


def choose(page: Page, files: list[Path] | list[dict[str, object]],
           button: str = "Liitä tiedostoja") -> None:
    """Pick files through the write box's button, as a user does (the file chooser opens)."""
    with page.expect_file_chooser() as chooser:
        page.locator(".compose").get_by_role("button", name=button).click()
    chooser.value.set_files(files)  # type: ignore[arg-type]


def open_as_therapist(world: World) -> Page:
    _, page = world.page()
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    return page


def last_seq(world: World) -> int:
    head = world.call(world.t.api.call("GET", f"/api/booklets/{world.booklet}/head"))
    return int(head["last_seq"])


def test_files_posted_in_the_browser_are_read_by_the_python_client(
    world: World, tmp_path: Path,
) -> None:
    """A PDF and a JPEG chosen in the write box (listed with name and size, one removed and
    added back) are encrypted in Chromium, uploaded and posted with a text; the Python client
    saves both byte-identical; the entry shows the image and both names."""
    _, page = world.page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url.rsplit("/", 1)[-1]))
    login_in_browser(page, world.server.base_url, "tiina", PASSWORD)
    open_booklet(page, world.booklet)
    # The file code loads on use: the encryptor and the upload only once something is sent.
    assert not {"file-stream.mjs", "files-io.mjs"} & set(fetched), fetched
    photo = jpeg(page)
    (tmp_path / "lausunto.pdf").write_bytes(PDF)
    (tmp_path / "kuva.jpg").write_bytes(photo)
    compose = page.locator(".compose")
    choose(page, [tmp_path / "lausunto.pdf", tmp_path / "kuva.jpg"])
    chosen = compose.get_by_role("list", name="Valitut liitteet")
    expect(chosen.get_by_role("listitem")).to_have_count(2)
    expect(chosen).to_contain_text("lausunto.pdf")
    expect(chosen).to_contain_text("2,9 kB")
    chosen.get_by_role("button", name="Poista kuva.jpg").click()
    expect(chosen.get_by_role("listitem")).to_have_count(1)
    choose(page, [tmp_path / "kuva.jpg"], button="Ota kuva")  # the camera's input takes images
    expect(chosen.get_by_role("listitem")).to_have_count(2)
    page.get_by_label("Kirjoita viesti").fill("Terapiasuunnitelma ja kuva")
    compose.get_by_role("button", name="Lähetä").click()

    entry = page.locator(".entry", has_text="Terapiasuunnitelma ja kuva")
    expect(entry.get_by_role("button", name="lausunto.pdf", exact=True)).to_be_visible()
    expect(entry).to_contain_text("PDF")
    image = entry.get_by_role("img", name="Kuva: kuva.jpg")
    expect(image).to_be_visible()
    assert image.evaluate("(img) => img.naturalWidth") == 40
    expect(chosen).to_be_hidden()
    expect(page.get_by_label("Kirjoita viesti")).to_have_value("")

    assert {"file-stream.mjs", "files-io.mjs"} <= set(fetched)

    saved = world.call(save_files(world.t, world.booklet, last_seq(world), tmp_path / "out"))
    by_name = {s.name: s.path.read_bytes() for s in saved}
    assert by_name == {"lausunto.pdf": PDF, "kuva.jpg": photo}
    assert {s.media_type for s in saved} == {"application/pdf", "image/jpeg"}


def test_files_posted_by_the_python_client_open_in_the_browser(
    world: World, tmp_path: Path,
) -> None:
    """The Python client's PDF downloads byte-identical under its name; its JPEG previews
    inline and downloads byte-identical; a hostile name (bidi override, control character, path
    separators) is shown and saved as sanitise_filename makes it, in both implementations."""
    page = open_as_therapist(world)
    photo = jpeg(page)
    (tmp_path / "lausunto.pdf").write_bytes(PDF)
    (tmp_path / "kuva.jpg").write_bytes(photo)

    async def post() -> None:
        a = await upload_file(world.t, world.booklet, tmp_path / "lausunto.pdf")
        b = await upload_file(world.t, world.booklet, tmp_path / "kuva.jpg")
        a = dataclasses.replace(a, name=HOSTILE)
        await world.t.post(world.booklet, "document", blob_ids=[a.blob_id, b.blob_id],
                           attachments=[a.to_json(), b.to_json()], text="Python lähetti")
    world.call(post())
    assert sanitise_filename(HOSTILE) == HOSTILE_SAVED

    entry = page.locator(".entry", has_text="Python lähetti")
    image = entry.get_by_role("img", name="Kuva: kuva.jpg")
    expect(image).to_be_visible()
    assert image.evaluate("(img) => img.naturalWidth") == 40
    assert "\u202e" not in (entry.text_content() or "")
    button = entry.get_by_role("button", name=HOSTILE_SAVED, exact=True)
    with page.expect_download() as info:
        button.click()
    assert info.value.suggested_filename == HOSTILE_SAVED
    info.value.save_as(tmp_path / "pdf")
    assert (tmp_path / "pdf").read_bytes() == PDF
    with page.expect_download() as info:
        entry.get_by_role("button", name="kuva.jpg", exact=True).click()
    assert info.value.suggested_filename == "kuva.jpg"
    info.value.save_as(tmp_path / "jpg")
    assert (tmp_path / "jpg").read_bytes() == photo


@pytest.mark.parametrize(("name", "mime", "content"), [
    ("ohje.html", "text/html", b"<script>alert(1)</script>"),
    ("kuva.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
])
def test_a_forbidden_type_is_refused_before_any_upload(
    world: World, name: str, mime: str, content: bytes,
) -> None:
    """HTML and SVG are named in a clear message, never listed or uploaded; the write box then
    sends the text alone as a note."""
    page = open_as_therapist(world)
    uploads = blob_uploads(page)
    choose(page, [{"name": name, "mimeType": mime, "buffer": content}])
    alert = page.locator(".compose .attachments-chosen [role=alert]")
    expect(alert).to_contain_text(f"{name}: tätä tiedostotyyppiä ei voi liittää")
    expect(page.get_by_role("list", name="Valitut liitteet")).to_be_hidden()
    page.get_by_label("Kirjoita viesti").fill("Pelkkä teksti")
    page.locator(".compose").get_by_role("button", name="Lähetä").click()
    expect(page.locator(".entry-note .text", has_text="Pelkkä teksti")).to_have_count(1)
    assert uploads == []
    assert page.locator(".entry[data-kind=document]").count() == 0


def test_an_oversize_file_dropped_on_the_write_box_is_refused_before_upload(world: World) -> None:
    """A file one byte over 25 MiB, dropped on the write box, is refused with its size and the
    limit; one at the limit is listed (nothing is uploaded until Send)."""
    page = open_as_therapist(world)
    uploads = blob_uploads(page)
    page.locator(".compose").wait_for()  # the write box comes after the newest entries
    page.evaluate("""() => {
        const MiB = 1024 * 1024, type = 'application/pdf';
        const big = new File([new Uint8Array(25 * MiB + 1)], 'iso.pdf', { type });
        const ok = new File([new Uint8Array(25 * MiB)], 'raja.pdf', { type });
        const dt = new DataTransfer(); dt.items.add(big); dt.items.add(ok);
        const box = document.querySelector('.compose');
        const init = { dataTransfer: dt, bubbles: true, cancelable: true };
        const drag = (name) => new DragEvent(name, init);
        box.dispatchEvent(drag('dragover'));
        box.dispatchEvent(drag('drop'));
    }""")
    alert = page.locator(".compose .attachments-chosen [role=alert]")
    expect(alert).to_contain_text(
        "iso.pdf: tiedosto on liian suuri (25 MB). Yksi liite saa olla enintään 25 MB.")
    chosen = page.get_by_role("list", name="Valitut liitteet")
    expect(chosen.get_by_role("listitem")).to_have_count(1)
    expect(chosen).to_contain_text("raja.pdf")
    assert uploads == []


def test_a_failed_upload_keeps_the_text_and_the_files(world: World, tmp_path: Path) -> None:
    """The server refuses the blob (413 blob-too-large, as a smaller configured limit would):
    the box says why, the text and the files stay, nothing is posted; Send again succeeds."""
    page = open_as_therapist(world)
    before = last_seq(world)
    (tmp_path / "lausunto.pdf").write_bytes(PDF)

    def refuse(route: Route) -> None:
        route.fulfill(status=413, content_type="application/problem+json",
                      body='{"type": "blob-too-large", "title": "Too large", "status": 413, '
                           '"max_bytes": 1024}')
    page.route("**/blobs", refuse)
    choose(page, [tmp_path / "lausunto.pdf"])
    page.get_by_label("Kirjoita viesti").fill("Lausunto liitteenä")
    page.locator(".compose").get_by_role("button", name="Lähetä").click()
    alert = page.locator(".compose .attachments-chosen [role=alert]")
    expect(alert).to_contain_text("Liitettä lausunto.pdf ei voitu lähettää: palvelin ei ota "
                                  "vastaan näin suurta tiedostoa.")
    expect(page.get_by_label("Kirjoita viesti")).to_have_value("Lausunto liitteenä")
    expect(page.get_by_role("list", name="Valitut liitteet")).to_contain_text("lausunto.pdf")
    assert last_seq(world) == before

    page.unroute("**/blobs")
    page.locator(".compose").get_by_role("button", name="Lähetä").click()
    entry = page.locator(".entry", has_text="Lausunto liitteenä")
    expect(entry.get_by_role("button", name="lausunto.pdf", exact=True)).to_be_visible()
    expect(alert).to_be_hidden()
    assert last_seq(world) == before + 1
    # Chromium logs the refused request itself; it is the one console error expected here.
    expected = "console: Failed to load resource: the server responded with a status of 413"
    assert all(e.startswith(expected) for e in world.errors), world.errors
    world.errors.clear()


def test_a_blob_that_fails_its_check_is_named_and_nothing_is_saved(
    world: World, tmp_path: Path,
) -> None:
    """A server that changes one byte of a blob: the download says file-chunk-invalid and saves
    nothing; the image preview says so too instead of showing anything."""
    page = open_as_therapist(world)
    photo = jpeg(page)
    (tmp_path / "lausunto.pdf").write_bytes(PDF)
    (tmp_path / "kuva.jpg").write_bytes(photo)

    def tamper(route: Route) -> None:
        body = bytearray(route.fetch().body())
        body[60] ^= 1
        route.fulfill(status=200, content_type="application/octet-stream", body=bytes(body))
    page.route("**/blobs/*", tamper)
    downloads: list[object] = []
    page.on("download", lambda d: downloads.append(d))
    files = [tmp_path / "lausunto.pdf", tmp_path / "kuva.jpg"]
    world.call(post_files(world.t, world.booklet, files, text="Muutettu matkalla"))
    entry = page.locator(".entry", has_text="Muutettu matkalla")
    expect(entry.get_by_role("alert").filter(has_text="kuva.jpg")).to_contain_text(
        "kuva.jpg: tiedosto ei läpäissyt tarkistusta (file-chunk-invalid). Mitään ei tallennettu.")
    expect(entry.get_by_role("img")).to_have_count(0)
    entry.get_by_role("button", name="lausunto.pdf", exact=True).click()
    expect(entry.get_by_role("alert").filter(has_text="lausunto.pdf")).to_contain_text(
        "lausunto.pdf: tiedosto ei läpäissyt tarkistusta (file-chunk-invalid)")
    page.wait_for_timeout(300)
    assert downloads == []


def test_a_25_mb_file_round_trips_in_the_browser(world: World, tmp_path: Path) -> None:
    """25 MB (the limit, 25 MiB) chosen, encrypted, uploaded and posted in Chromium; saved again
    from the entry byte-identical, and by the Python client. Times are printed (-s)."""
    page = open_as_therapist(world)
    data = os.urandom(25 * 1024 * 1024)
    source = tmp_path / "iso.pdf"
    source.write_bytes(data)
    choose(page, [source])
    page.get_by_label("Kirjoita viesti").fill("Iso liite")
    started = time.perf_counter()
    page.locator(".compose").get_by_role("button", name="Lähetä").click()
    entry = page.locator(".entry", has_text="Iso liite")
    button = entry.get_by_role("button", name="iso.pdf", exact=True)
    expect(button).to_be_visible(timeout=120_000)
    up = time.perf_counter() - started
    started = time.perf_counter()
    with page.expect_download(timeout=120_000) as info:
        button.click()
    info.value.save_as(tmp_path / "back")
    down = time.perf_counter() - started
    back = (tmp_path / "back").read_bytes()
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
    saved = world.call(save_files(world.t, world.booklet, last_seq(world), tmp_path / "py"))
    assert saved[0].path.read_bytes() == data
    print(f"\n25 MiB in Chromium: attach+encrypt+upload+post {up:.2f} s, "
          f"download+decrypt+check+save {down:.2f} s")


def test_the_login_screen_loads_no_file_code(world: World) -> None:
    """The first load (login screen, ≤ 100 KB budget) fetches none of the attachment modules,
    their texts or their styles."""
    _, page = world.page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url.rsplit("/", 1)[-1]))
    page.goto(world.server.base_url + "/")
    page.get_by_label("Käyttäjätunnus").wait_for()
    page.wait_for_load_state("networkidle")
    files = {"file-stream.mjs", "file-meta.mjs", "files-io.mjs", "files-text.mjs", "attach.mjs",
             "files.mjs", "files.css"}
    assert "main.mjs" in fetched
    assert not files & set(fetched), fetched
