"""The export archive (docs/export.md) on the real server: a guardian exports a booklet written
by three people, `verify-export` passes offline, the export is in the access log, and every
kind of change to the archive is found and named."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import Client, access_log, export_zip
from secure_msg.client import export as booklet_export
from secure_msg.client.attachments import post_files
from secure_msg.client.export_verify import verify
from secure_msg.crypto import labels
from secure_msg.crypto.primitives import sign

from .conftest import PASSWORD, People, admin_invite

pytestmark = pytest.mark.slow
HOSTILE = "<img src=x onerror=alert(1)> </p><script>alert(2)</script>"
FILE = b"%PDF-1.4 therapy plan\n" + os.urandom(3000)
NAME = "Suunnitelma\u202egpj.pdf"  # a bidi override: shown as "...fdp.jpg" unsanitised
MISSING = {"blob_id": "00" * 16, "file_id": "11" * 16, "key": "22" * 32, "name": "x.pdf",
           "media_type": "application/pdf", "size": 3, "sha256": "33" * 32}


async def _family(people: People) -> tuple[str, Client, Client, Client]:
    therapist = await people.enroll("terapeutti", admin_invite(people.server, "Tiina T"))
    booklet = await therapist.create_booklet("Aino")
    mum = await people.enroll("aiti", people.link(
        await therapist.invite(booklet, "guardian", name="Äiti")))
    dad = await people.enroll("isa", people.link(
        await therapist.invite(booklet, "guardian", name="Isä")))
    for member in (mum, dad):
        await therapist.grant_history(booklet, member.profile.account_id, {"title"})
    await therapist.post(booklet, "note", text="Tervetuloa")
    hw = await therapist.post(booklet, "homework", task="Pyöräily", frequency="daily")
    await mum.post(booklet, "homework-log", homework=hw["entry_id"], done=True, how="Hyvin",
                   date="2026-11-27")
    await dad.post(booklet, "homework-log", homework=hw["entry_id"], done=False, how="Sataa",
                   date="2026-11-28")
    await dad.post(booklet, "note", text=HOSTILE)
    # A real file, encrypted, uploaded and attached; and one whose blob the server never had.
    folder = Path(tempfile.mkdtemp())
    (folder / NAME).write_bytes(FILE)
    await post_files(therapist, booklet, [folder / NAME], text="Suunnitelma")
    await therapist.post(booklet, "document", attachments=[MISSING], text="Kadonnut")
    return booklet, therapist, mum, dad


def _members(archive: bytes) -> dict[str, bytes]:
    return dict(export_zip.read(archive))


def _rezip(archive: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """An archive changed by someone who rewrites the zip properly (CRCs and all)."""
    files = _members(archive)
    change(files)
    return export_zip.write(list(files.items()))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def _resign(files: dict[str, bytes], exporter: Client,
            manifest_change: Callable[[dict[str, Any]], None] = lambda m: None) -> None:
    """A dishonest exporter: rewrites the manifest's hashes to match and signs it again."""
    m = json.loads(files["manifest.json"])
    manifest_change(m)
    listed = {f["path"] for f in m["files"]}
    m["files"] = [{"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                  for p, d in files.items() if p in listed]
    raw = booklet_export.dumps(m)
    files["manifest.json"] = raw
    assert exporter.keys is not None
    files["manifest.sig"] = sign(exporter.keys.identity, labels.EXPORT_MANIFEST, raw)


def _codes(archive: bytes) -> set[tuple[str, str]]:
    return {(f.code, f.where) for f in verify(archive).failures}


async def test_export_verifies_offline_and_every_change_is_found(
        people: People, tmp_path: Path) -> None:
    booklet, therapist, mum, dad = await _family(people)
    result = await booklet_export.build(mum, booklet, language="fi")
    archive = result.archive
    report = verify(archive)
    assert report.failures == []
    assert report.warnings == ["entry 8 file 0 is not in the archive (unavailable)"]
    assert (report.entries, report.files, report.booklet_id) == (8, 1, booklet)
    assert report.exporter == {"account_id": mum.profile.account_id,
                               "fingerprint": next(m.fingerprint for m in
                                                   await mum.members(booklet)
                                                   if m.account_id == mum.profile.account_id)}
    files = _members(archive)
    envelopes = sorted(p for p in files if p.startswith("envelopes/"))
    assert envelopes == [f"envelopes/{n:06d}.bin" for n in range(1, 9)]
    file_path = "files/000007-01-Suunnitelmagpj.pdf"
    assert files[file_path] == FILE  # bidi control gone, no path separator left

    doc = json.loads(files["booklet.json"])
    assert [e["kind"] for e in doc["entries"]] == [
        "title", "note", "homework", "homework-log", "homework-log", "note", "document",
        "document"]
    [hw] = doc["homework"]
    assert [(log["how"], log["done"], log["author_id"]) for log in hw["logs"]] == [
        ("Hyvin", True, mum.profile.account_id), ("Sataa", False, dad.profile.account_id)]
    assert {m["name"]: m["role"] for m in doc["members"]} == {
        "Tiina T": "therapist", "Äiti": "guardian", "Isä": "guardian"}
    # The export is in the log, by the guardian, in the archive and on the server.
    exported = [(i["actor"], i["detail"]) for i in doc["access_log"]
                if i["action"] == "booklet.exported"]
    assert exported == [(mum.profile.account_id, {"kind": "booklet", "entries": 8})]
    seen_by_dad = await access_log.fetch(dad, booklet)
    assert [(i["actor"], i["detail"]["kind"]) for i in seen_by_dad
            if i["action"] == "booklet.exported"] == [(mum.profile.account_id, "booklet")]

    html = files["booklet.html"].decode()
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;img src=x onerror=alert(1)&gt; &lt;/p&gt;&lt;script&gt;alert(2)" in html
    assert "Kotitehtävät" in html
    assert "Käyttöloki" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "src=" not in html.replace(
        "src=x", "")
    assert "default-src 'none'" in html

    _every_change_is_found(archive, mum, file_path)

    # -- the command line: exit codes and --json ---------------------------------------------
    good, bad_path = tmp_path / "vienti.zip", tmp_path / "muutettu.zip"
    good.write_bytes(archive)
    env3 = "envelopes/000003.bin"
    bad_path.write_bytes(_rezip(archive, lambda f: f.update({env3: _flip(f[env3], 200)})))
    run = _verify_cli(good)
    assert run.returncode == 0
    assert "OK: 8 signed entries and 1 files" in run.stdout
    run = _verify_cli(bad_path, "--json")
    assert run.returncode == 1
    out = json.loads(run.stdout)
    assert out["ok"] is False
    assert {"code": "bad-signature", "where": f"entry 3 ({env3})",
            "detail": "not signed by its author"} in out["failures"]
    # Closed at the end of therapy, the booklet still exports (the retention reminder asks
    # for exactly that).
    await therapist.api.call("POST", f"/api/booklets/{booklet}/close")
    await _cli_export(dad, booklet, tmp_path)


async def _cli_export(dad: Client, booklet: str, tmp_path: Path) -> None:
    """`secure-msg client export` with a saved profile: an owner-only file that verifies, in
    English by the account's language, and a second export in the log."""
    folder, password = tmp_path / "isa", tmp_path / "password"
    dad.profile.save(folder)
    password.write_text(PASSWORD + "\n")
    out = tmp_path / "isa.zip"
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "secure_msg", "client", "--profile", str(folder),
         "--password-file", str(password), "--json", "export", booklet, "--out", str(out),
         "--language", "sv"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert (answer["entries"], answer["files"], answer["path"]) == (8, 1, str(out))
    assert "1 attached files could not be fetched" in run.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    report = verify(out.read_bytes())
    assert report.ok
    assert report.warnings == ["entry 8 file 0 is not in the archive (unavailable)"]
    html = _members(out.read_bytes())["booklet.html"].decode()
    assert "Hemuppgifter" in html
    assert "Åtkomstlogg" in html
    exports = [i["actor"] for i in await access_log.fetch(dad, booklet)
               if i["action"] == "booklet.exported"]
    assert len(exports) == 2
    assert exports[0] == dad.profile.account_id


def _every_change_is_found(archive: bytes, mum: Client, file_path: str) -> None:
    files = _members(archive)
    # -- every part flipped, by someone who rewrites the zip properly ------------------------
    env3 = "envelopes/000003.bin"
    cases: dict[str, tuple[bytes, set[tuple[str, str]]]] = {
        "envelope": (_rezip(archive, lambda f: f.update({env3: _flip(f[env3], 200)})),
                     {("file-hash-mismatch", env3),
                      ("bad-signature", f"entry 3 ({env3})")}),
        "file": (_rezip(archive, lambda f: f.update({file_path: _flip(f[file_path], 50)})),
                 {("file-hash-mismatch", file_path), ("attachment-mismatch", file_path)}),
        "booklet.json": (_rezip(archive, lambda f: f.update(
            {"booklet.json": f["booklet.json"].replace(b"Hyvin", b"Huonosti")})),
            {("file-hash-mismatch", "booklet.json"),
             ("booklet-json-mismatch", "entry 4 (envelopes/000004.bin)")}),
        "booklet.html": (_rezip(archive, lambda f: f.update(
            {"booklet.html": _flip(f["booklet.html"], 500)})),
            {("file-hash-mismatch", "booklet.html")}),
        "signature": (_rezip(archive, lambda f: f.update(
            {"manifest.sig": _flip(f["manifest.sig"], 10)})),
            {("bad-manifest-signature", "manifest.sig")}),
        "envelope removed": (_rezip(archive, lambda f: f.pop(env3)),
                             {("file-missing", env3)}),
        "envelopes swapped": (_rezip(archive, lambda f: f.update(
            {env3: f["envelopes/000004.bin"], "envelopes/000004.bin": f[env3]})),
            {("envelope-mismatch", f"entry 3 ({env3})"),
             ("envelope-mismatch", "entry 4 (envelopes/000004.bin)")}),
    }
    # The manifest: one hex digit of a listed hash changed, still valid JSON.
    m = files["manifest.json"]
    at = m.index(b'"sha256": "') + len(b'"sha256": "')
    changed = m[:at] + (b"0" if m[at:at + 1] != b"0" else b"1") + m[at + 1:]
    cases["manifest"] = (_rezip(archive, lambda f: f.update({"manifest.json": changed})),
                         {("bad-manifest-signature", "manifest.sig")})
    for name, (bad, expected) in cases.items():
        found = _codes(bad)
        assert expected <= found, (name, found)

    # -- a dishonest exporter who signs again cannot pass off other text or drop an entry ----
    forged = _rezip(archive, lambda f: (f.update({"booklet.json": f["booklet.json"].replace(
        b"Hyvin", b"Huonosti")}), _resign(f, mum)))
    assert _codes(forged) == {("booklet-json-mismatch", "entry 4 (envelopes/000004.bin)")}

    def drop_third(m: dict[str, Any]) -> None:
        m["envelopes"] = [e for e in m["envelopes"] if e["seq"] != 3]

    dropped = _rezip(archive, lambda f: (f.pop(env3), _resign(f, mum, drop_third)))
    assert ("entries-missing", "entry 3") in _codes(dropped)
    assert ("chain-broken", "entry 4") not in _codes(dropped)  # no predecessor to compare

    # -- a flipped byte in the zip's own structure (a header's date) ------------------------
    assert ("zip-not-canonical", "archive") in _codes(_flip(archive, 12))
    # ...and a plain flip in an envelope's bytes, CRC left wrong, is named as above
    at = archive.index(files[env3]) + 200
    assert ("bad-signature", f"entry 3 ({env3})") in _codes(_flip(archive, at))
    assert _codes(b"not a zip") == {("zip-malformed", "archive")}


def _verify_cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_msg", "client", "verify-export", str(path), *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SECURE_MSG_PROFILE": "/nonexistent"})
