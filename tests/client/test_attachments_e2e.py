"""Documents with files end to end (issue 17's acceptance): the real server in a subprocess and
the Python client. A 25 MB PDF and a phone photo go up encrypted and come down byte-identical;
canary bytes planted in them never reach the database files, the blob directory or the log;
the server's peak memory does not grow by a file's size while one streams; a blob changed on
the server is refused and nothing is saved. The CLI posts and downloads the same way."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import Client, ClientError, blobs
from secure_msg.client.attachments import post_files, save_files
from secure_msg.crypto.file_stream import encrypt_file
from secure_msg.testing.raw_http import RawConnection
from secure_msg.testing.server_process import ServerProcess

from .conftest import PASSWORD, People, admin_invite, scan_files

pytestmark = pytest.mark.slow

MB = 1_000_000
CANARIES = ["CANARY-PDF-Lausunto-7f3a", "CANARY-JPEG-Kotiharjoitus-91c2"]


def pdf_like(size: int, canary: str) -> bytes:
    """A PDF's head and tail around incompressible bytes, the canary planted three times."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Title (" + canary.encode() + b") >>\n"
    tail = b"\nendobj\n%%EOF\n"
    middle = bytearray(os.urandom(size - len(head) - len(tail)))
    for at in (len(middle) // 3, 2 * len(middle) // 3):
        middle[at : at + len(canary)] = canary.encode()
    return head + bytes(middle) + tail


def jpeg_like(size: int, canary: str) -> bytes:
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xfe" + \
        len(canary).to_bytes(2, "big") + canary.encode()
    return head + os.urandom(size - len(head) - 2) + b"\xff\xd9"


def reset_peak(pid: int) -> None:
    """VmHWM from the current RSS on (Linux clear_refs 5): not Argon2id's peak at enrollment."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def _family(people: People) -> tuple[Client, Client, str]:
    therapist = await people.enroll("terapeutti", admin_invite(people.server, "T"))
    booklet = await therapist.create_booklet("Aino")
    mum = await people.enroll("aiti", people.link(await therapist.invite(booklet, "guardian")))
    return therapist, mum, booklet


async def test_a_25_mb_pdf_and_a_photo_round_trip_and_never_show_in_clear(
        people: People, tmp_path: Path) -> None:
    therapist, mum, booklet = await _family(people)
    server = people.server
    assert server.process is not None
    sent = tmp_path / "sent"
    sent.mkdir()
    pdf = sent / "Terapialausunto.pdf"
    pdf.write_bytes(pdf_like(25 * MB, CANARIES[0]))
    photo = sent / "IMG_2041.jpg"
    photo.write_bytes(jpeg_like(3 * MB, CANARIES[1]))
    reset_peak(server.process.pid)
    before = peak_rss_kb(server.process.pid)
    posted = await post_files(therapist, booklet, [pdf, photo], text="Lausunto ja kuva")
    saved = await save_files(mum, booklet, posted["seq"], tmp_path / "received")
    grown_mb = (peak_rss_kb(server.process.pid) - before) / 1024
    assert [s.name for s in saved] == [pdf.name, photo.name]
    for s, original in zip(saved, (pdf, photo), strict=True):
        assert hashlib.sha256(s.path.read_bytes()).digest() == \
            hashlib.sha256(original.read_bytes()).digest()
    assert [s.media_type for s in saved] == ["application/pdf", "image/jpeg"]
    # A server that held a file whole would grow by 25 MB at least.
    assert grown_mb < 8, f"server peak RSS grew {grown_mb:.1f} MB"
    blob_files = sorted((server.workdir / "var" / "blobs").rglob("*"))
    stored = [p for p in blob_files if p.is_file()]
    assert len(stored) == 2
    assert sum(p.stat().st_size for p in stored) > 28 * MB
    server.stop()  # the log and the WAL are complete
    places = [*server.db_files(), *stored, server.log_path, server.stdout_path]
    assert scan_files(places, [*CANARIES, "Terapialausunto", "IMG_2041", "Lausunto ja kuva"]) \
        == []


async def test_a_blob_changed_on_the_server_is_refused_and_nothing_saved(
        people: People, tmp_path: Path) -> None:
    therapist, mum, booklet = await _family(people)
    doc = tmp_path / "suunnitelma.pdf"
    doc.write_bytes(pdf_like(300_000, "x"))
    posted = await post_files(therapist, booklet, [doc])
    (blob,) = [p for p in (people.server.workdir / "var" / "blobs").rglob("*") if p.is_file()]
    data = bytearray(blob.read_bytes())
    data[100_000] ^= 1
    blob.write_bytes(bytes(data))
    out = tmp_path / "received"
    with pytest.raises(ClientError) as refused:
        await save_files(mum, booklet, posted["seq"], out)
    assert refused.value.code == "protocol/file-chunk-invalid"
    assert list(out.iterdir()) == []


async def test_an_upload_cut_off_by_the_client_leaves_nothing_and_logs_no_error(
        people: People) -> None:
    """A phone losing its connection mid-upload or mid-download is the client's doing: the
    production server (which does not cancel handlers) keeps nothing of the upload and logs no
    ERROR for either."""
    therapist, _, booklet = await _family(people)
    server = people.server
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    head = (f"POST /api/booklets/{booklet}/blobs HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {therapist.profile.token}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n")
    async with RawConnection.open(host, int(port)) as conn:
        await conn.send(head.encode() + b"x" * 5000)
        await asyncio.sleep(0.3)
    sealed = encrypt_file(os.urandom(20 * MB), bytes.fromhex(booklet))[0]
    big = await blobs.upload(therapist.api, booklet, sealed, len(sealed))
    async with RawConnection.open(host, int(port)) as conn:  # and a download dropped early
        await conn.send(f"GET /api/booklets/{booklet}/blobs/{big['id']} HTTP/1.1\r\nHost: x\r\n"
                        f"Authorization: Bearer {therapist.profile.token}\r\n\r\n".encode())
        await conn.reader.readexactly(100_000)
    blob_dir = server.workdir / "var" / "blobs"
    for _ in range(100):
        records = [json.loads(line) for line in server.log_path.read_text().splitlines()
                   if line.startswith("{")]
        routes = {r.get("route") for r in records if r.get("event") == "request"}
        if {"/api/booklets/{booklet_id}/blobs",
                "/api/booklets/{booklet_id}/blobs/{blob_id}"} <= routes:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the server never logged both requests")
    assert [r for r in records if r.get("level") in ("ERROR", "CRITICAL")] == []
    assert [p.name for p in blob_dir.rglob("*") if p.is_file()] == [big["id"]]
    with sqlite3.connect(server.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 1


async def test_a_file_type_not_allowed_is_refused_before_anything_is_sent(
        people: People, tmp_path: Path) -> None:
    therapist, _, booklet = await _family(people)
    page = tmp_path / "lomake.html"
    page.write_text("<script>alert(1)</script>")
    with pytest.raises(ClientError) as refused:
        await post_files(therapist, booklet, [page])
    assert refused.value.code == "media-type-not-allowed"
    assert not [p for p in (people.server.workdir / "var" / "blobs").rglob("*") if p.is_file()]


def _cli(home: Path, *args: str, ok: bool = True) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "secure_msg", "client", "--profile", str(home / "profile"),
         "--password-file", str(home / "password"), "--json", *args],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "SECURE_MSG_PASSWORD"})
    assert (out.returncode == 0) == ok, out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_cli_posts_documents_and_downloads_them_under_safe_names(
        secure_msg_server: ServerProcess, tmp_path: Path) -> None:
    """`post --kind document --file F --file G`, then `download BOOKLET SEQ --out DIR`: the
    same bytes, a name with a right-to-left override and a control character saved without
    them, and `read` shows the files without their keys."""
    server = secure_msg_server
    t, p = tmp_path / "t", tmp_path / "p"
    for home in (t, p):
        home.mkdir()
        (home / "password").write_text(PASSWORD + "\n")
    _cli(t, "enroll", admin_invite(server, "T"), "--login", "terapeutti")
    booklet = str(_cli(t, "booklet", "create", "--title", "Aino")["id"])
    link = str(_cli(t, "booklet", "invite", booklet, "--role", "guardian")["link"])
    _cli(p, "enroll", server.base_url + link[link.index("/enroll/"):], "--login", "aiti")
    files = tmp_path / "files"
    files.mkdir()
    tricky = files / "lasku\u202efdp.exe\u0007.pdf"
    tricky.write_bytes(pdf_like(200_000, "y"))
    photo = files / "kuva.jpg"
    photo.write_bytes(jpeg_like(100_000, "z"))
    posted = _cli(t, "post", booklet, "--kind", "document", "--file", str(tricky), "--file",
                  str(photo), "--text", "Liitteet", "--confirm-unverified")
    read = _cli(p, "read", booklet)
    entry = next(e for e in read["entries"] if e["seq"] == posted["seq"])
    assert [f["name"] for f in entry["payload"]["attachments"]] == [tricky.name, photo.name]
    assert "key" not in json.dumps(entry["payload"]["attachments"])
    out = tmp_path / "out"
    got = _cli(p, "download", booklet, str(posted["seq"]), "--out", str(out))
    names = [f["name"] for f in got["files"]]
    assert names == ["laskufdp.exe.pdf", "kuva.jpg"]
    assert (out / "laskufdp.exe.pdf").read_bytes() == tricky.read_bytes()
    assert (out / "kuva.jpg").read_bytes() == photo.read_bytes()
    again = _cli(p, "download", booklet, str(posted["seq"]), "--out", str(out))
    assert [f["name"] for f in again["files"]] == ["laskufdp.exe (2).pdf", "kuva (2).jpg"]
    refused = _cli(t, "post", booklet, "--kind", "document", "--file", str(files / "x.svg"),
                   ok=False)
    assert refused["error"] == "bad-arguments"

