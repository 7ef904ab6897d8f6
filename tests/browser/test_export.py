"""The export in Chromium: a guardian exports a booklet written by three people (homework with
logs, a document, a hostile note) and the Python `verify-export` accepts the browser's archive;
its page is the Python client's page for the same booklet.json, and the export is in the log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from secure_msg.client import Client, Profile, access_log, export_html, export_zip
from secure_msg.client.attachments import post_files
from secure_msg.client.export_verify import verify

from .harness import PARENT_PASSWORD, World, enroll_in_browser, local_link, open_booklet

pytestmark = pytest.mark.slow
FILE = b"%PDF-1.4 lausunto\n" + bytes(range(256)) * 300  # two chunks of the file format
HOSTILE = "<img src=x onerror=alert(1)> Ääkköset & \"lainaus\" 'yksi'"


def test_a_browser_export_verifies_in_python(world: World, tmp_path: Path) -> None:
    context, page = world.page()
    enroll_in_browser(page, world.invite("Äiti"), "aiti")
    issued = world.call(world.t.invite(world.booklet, "guardian", name="Isä"))
    assert world.http is not None
    dad = Client(Profile(), world.http)
    world.call(dad.enroll(local_link(world.server, issued["link"]), "isa", PARENT_PASSWORD))
    for m in world.call(world.t.members(world.booklet)):
        world.call(world.t.grant_history(world.booklet, m.account_id, {"title"}))
    hw = world.call(world.t.post(world.booklet, "homework", task="Pyöräily",
                                 frequency="daily", text="Joka päivä"))
    world.call(dad.post(world.booklet, "homework-log", homework=hw["entry_id"], done=True,
                        how="Hyvin meni", date="2026-11-28"))
    world.call(dad.post(world.booklet, "note", text=HOSTILE))
    pdf = tmp_path / "Lausunto lääkärille.pdf"
    pdf.write_bytes(FILE)
    world.call(post_files(world.t, world.booklet, [pdf], text="Lausunto lääkärille"))

    page.reload()
    open_booklet(page, world.booklet)
    panel = page.locator("details.export")
    panel.get_by_role("heading", name="Vie tiedostoon").click()
    with page.expect_download() as download:
        panel.get_by_role("button", name="Vie tiedostoon").click()
    saved = tmp_path / "vienti.zip"
    download.value.save_as(saved)
    archive = saved.read_bytes()

    report = verify(archive)
    assert report.failures == []
    assert report.warnings == []
    assert report.files == 1
    assert report.entries == 5
    run = subprocess.run([sys.executable, "-m", "secure_msg", "client", "verify-export",
                          str(saved)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert export_zip.write(export_zip.read(archive)) == archive  # the canonical layout

    files = dict(export_zip.read(archive))
    doc = json.loads(files["booklet.json"])
    assert doc["language"] == "fi"
    assert [e["kind"] for e in doc["entries"]] == [
        "title", "homework", "homework-log", "note", "document"]
    assert files["files/000005-01-Lausunto lääkärille.pdf"] == FILE
    [homework] = doc["homework"]
    assert [(log["how"], log["author_id"]) for log in homework["logs"]] == [
        ("Hyvin meni", dad.profile.account_id)]
    html = files["booklet.html"].decode()
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;img src=x onerror=alert(1)&gt; Ääkköset &amp; &quot;lainaus&quot; " \
           "&#x27;yksi&#x27;" in html
    # Both implementations render one booklet.json to the same page.
    assert export_html.render(doc) == html

    log = world.call(access_log.fetch(world.t, world.booklet))
    exports = [i for i in log if i["action"] == "booklet.exported"]
    assert [(i["detail"]["kind"], i["detail"]["entries"]) for i in exports] == [("booklet", 5)]
    context.close()
