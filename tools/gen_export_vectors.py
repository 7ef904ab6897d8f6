"""Generate tests/vectors/export-v1.json: the export archive of docs/export.md.

- `crc32`: CRC-32 values (zlib's), for the browser's own CRC-32;
- `zips`: members and the canonical stored zip both writers must write byte for byte (the test
  also opens each with Python's zipfile, CRCs checked, as any unzip tool would);
- `manifest_signature`: an exporter's key, a manifest and its Ed25519 signature under the label
  `secure-msg/v1/export-manifest` (made here with `cryptography`, not with the export code);
- `html`: booklet.json documents, hostile text included, and the page both implementations
  render from each;
- `archive`: a whole archive from fixed seeds (two accounts, five entries, one file), and
  `cases`: changes to it with the failures `verify-export` must name, written by hand from the
  table of docs/export.md §6.

Running the script twice gives the same bytes (tests/client/test_export_vectors.py checks it).
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from pathlib import Path
from typing import Any

from secure_msg.client import export_html, export_zip
from secure_msg.client.export import Parts, assemble, file_path
from secure_msg.clock import ms_to_iso
from secure_msg.crypto import envelope, keys, safety
from secure_msg.crypto.envelope import KIND_IDS, ZERO_HASH
from secure_msg.crypto.payloads import encode_payload
from secure_msg.crypto.rng import SeededRng

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "export-v1.json"
SEED = "secure-msg/v1/vectors/export/"
BOOKLET = bytes.fromhex("e0" * 16)
CREATED = 1_765_000_000_000
HOSTILE = "<img src=x onerror=alert(1)> </p><script>alert('x')</script> & \"quoted\""


def drawn(what: str, n: int) -> bytes:
    return SeededRng(f"{SEED}{what}".encode())(n)


def crc32_cases() -> list[dict[str, Any]]:
    datas = [b"", b"123456789", b"\x00", "Lääkärin lausunto".encode(), drawn("crc", 1000)]
    return [{"data": d.hex(), "crc32": zlib.crc32(d)} for d in datas]


def zip_cases() -> list[dict[str, Any]]:
    cases = {
        "empty": [],
        "one member": [("manifest.json", b'{"format": "secure-msg-export"}\n')],
        "several, an empty one and a UTF-8 name": [
            ("manifest.json", b"{}\n"), ("manifest.sig", drawn("sig", 64)),
            ("envelopes/000001.bin", drawn("envelope", 300)),
            ("files/000001-01-Lääkärin lausunto.pdf", b""),
        ],
    }
    return [{"name": name, "members": [{"name": n, "data": d.hex()} for n, d in members],
             "zip": export_zip.write(members).hex()} for name, members in cases.items()]


def account(name: str, index: int) -> keys.AccountKeys:
    return keys.AccountKeys.generate(bytes([index]) * 16, SeededRng(f"{SEED}{name}".encode()))


def signature_case() -> dict[str, Any]:
    me = account("exporter", 0xA1)
    manifest = json.dumps({"format": "secure-msg-export", "version": 1}, indent=1).encode() + b"\n"
    signed = b"secure-msg/v1/export-manifest\x00" + manifest
    return {"identity_seed": me.identity_seed.hex(), "identity_key": me.identity_public.hex(),
            "manifest": manifest.hex(), "signature": me.identity.sign(signed).hex()}


def html_doc(language: str) -> dict[str, Any]:
    t, g = "a1" * 16, "a2" * 16
    hw = "b3" * 16
    entries = [
        {"seq": 1, "entry_id": "b1" * 16, "author_id": t, "kind": "title",
         "created_at": "2026-12-01T08:00:00.000+00:00", "payload": {"kind": "title",
                                                                 "title": "Aino <3"},
         "error": None, "files": []},
        {"seq": 2, "entry_id": "b2" * 16, "author_id": g, "kind": "note",
         "created_at": "2026-12-01T09:00:00.000+00:00",
         "payload": {"kind": "note", "text": HOSTILE + "\nrivi 2"}, "error": None, "files": []},
        {"seq": 3, "entry_id": hw, "author_id": t, "kind": "homework",
         "created_at": "2026-12-02T09:00:00.000+00:00",
         "payload": {"kind": "homework", "task": "Pyöräily", "frequency": "daily",
                     "text": "Pihalla"}, "error": None, "files": []},
        {"seq": 4, "entry_id": "b4" * 16, "author_id": g, "kind": "homework-log",
         "created_at": "2026-12-03T09:00:00.000+00:00",
         "payload": {"kind": "homework-log", "homework": hw, "done": True, "how": "Hyvin",
                     "date": "2026-12-03"}, "error": None, "files": []},
        {"seq": 5, "entry_id": "b5" * 16, "author_id": t, "kind": None,
         "created_at": "2026-12-04T09:00:00.000+00:00", "payload": None,
         "error": "protocol/not-a-recipient", "files": []},
        {"seq": 6, "entry_id": "b6" * 16, "author_id": t, "kind": "document",
         "created_at": "2026-12-05T09:00:00.000+00:00",
         "payload": {"kind": "document", "text": "Lausunto", "attachments": [
             {"blob_id": "x", "file_id": "c1" * 16, "key": "c2" * 32, "name": "a\"b'.pdf",
              "media_type": "application/pdf", "size": 3, "sha256": "c3" * 32},
             {"blob_id": "y", "file_id": "c4" * 16, "key": "c5" * 32, "name": "kuva.jpg",
              "media_type": "image/jpeg", "size": 4, "sha256": "c6" * 32}]},
         "error": None, "files": [
             {"attachment": 0, "path": "files/000006-01-a_b'#1 (50%)!*~ä.pdf", "missing": None},
             {"attachment": 1, "path": None, "missing": "unavailable"}]},
        {"seq": 7, "entry_id": "b7" * 16, "author_id": t, "kind": "document",
         "created_at": "2026-12-06T09:00:00.000+00:00",
         "payload": {"kind": "document", "name": "<b>vanha</b>.txt", "media_type": "text/plain",
                     "data": "aGVp"}, "error": None, "files": []},
    ]
    return {
        "format": "secure-msg-export", "version": 1, "booklet_id": BOOKLET.hex(),
        "title": "Aino <3", "exported_at": "2026-12-07T10:00:00.000+00:00", "language": language,
        "exporter": {"account_id": g, "name": "Äiti & <Isä>", "role": "guardian",
                     "fingerprint": "0000 1111"},
        "members": [
            {"account_id": t, "role": "therapist", "name": "Tiina T", "fingerprint": "aaaa",
             "verified": True, "removed": False, "joined_seq": 0},
            {"account_id": g, "role": "guardian", "name": "Äiti & <Isä>",
             "fingerprint": "0000 1111", "verified": False, "removed": False, "joined_seq": 1},
            {"account_id": "a3" * 16, "role": "caregiver", "name": None, "fingerprint": "bbbb",
             "verified": False, "removed": True, "joined_seq": 2},
        ],
        "entries": entries,
        "homework": [{"entry_id": hw, "seq": 3, "task": "Pyöräily", "frequency": "daily",
                      "text": "Pihalla", "logs": [
                          {"seq": 4, "entry_id": "b4" * 16, "author_id": g, "done": True,
                           "how": "Hyvin", "date": "2026-12-03",
                           "created_at": "2026-12-03T09:00:00.000+00:00"}]}],
        "access_log": [{"seq": 9, "at": "2026-12-07T10:00:00.000+00:00", "actor": g,
                        "actor_ref": f"account:{g}", "action": "booklet.exported",
                        "detail": {"kind": "booklet"}, "who": "<Äiti>",
                        "what": "exported (booklet)"}],
        "history_problems": [],
    }


def html_cases() -> list[dict[str, Any]]:
    out = []
    for language in ("fi", "sv", "en"):
        doc = html_doc(language)
        out.append({"name": language, "doc": doc, "html": export_html.render(doc)})
    empty = {**html_doc("en"), "entries": [], "homework": [], "access_log": [], "title": None}
    out.append({"name": "empty", "doc": empty, "html": export_html.render(empty)})
    return out


FILE = b"Suunnitelma\n" * 10
ATTACHMENT: dict[str, Any] = {"blob_id": "blob-1", "file_id": "d1" * 16, "key": "d2" * 32,
              "name": "Suunnitelma.pdf", "media_type": "application/pdf", "size": len(FILE),
              "sha256": hashlib.sha256(FILE).hexdigest()}


def archive() -> bytes:
    therapist, guardian = account("therapist", 0xA1), account("guardian", 0xA2)
    both = [(a.account_id, a.encryption_public) for a in (therapist, guardian)]
    hw_id = drawn("entry-id/3", 16)
    plan: list[tuple[keys.AccountKeys, str, dict[str, Any]]] = [
        (therapist, "title", {"title": "Aino"}),
        (guardian, "note", {"text": HOSTILE}),
        (therapist, "homework", {"task": "Pyöräily", "frequency": "daily"}),
        (guardian, "homework-log", {"homework": hw_id.hex(), "done": True, "how": "Hyvin",
                                    "date": "2026-12-03"}),
        (therapist, "document", {"attachments": [ATTACHMENT], "text": "Suunnitelma"}),
    ]
    prev = ZERO_HASH
    sealed: list[tuple[int, bytes, bytes | None]] = []
    entries: list[dict[str, Any]] = []
    for seq, (author, kind, fields) in enumerate(plan, start=1):
        entry_id = drawn(f"entry-id/{seq}", 16)
        data = envelope.seal_entry(
            author, booklet_id=BOOKLET, entry_id=entry_id, kind=KIND_IDS[kind], sequence=seq,
            prev_hash=prev, created_at=CREATED + seq * 60_000,
            plaintext=encode_payload(kind, **fields), recipients=both,
            rng=SeededRng(f"{SEED}entry/{seq}".encode()))
        opened = envelope.open_entry(data, author_identity_key=author.identity_public,
                                     author_id=author.account_id, booklet_id=BOOKLET,
                                     me=guardian)
        prev = envelope.entry_hash(data)
        sealed.append((seq, data, opened.content_key))
        files = ([{"attachment": 0, "path": file_path(seq, 0, ATTACHMENT["name"]),
                   "missing": None}] if kind == "document" else [])
        entries.append({"seq": seq, "entry_id": entry_id.hex(),
                        "author_id": author.account_id.hex(), "kind": kind,
                        "created_at": ms_to_iso(CREATED + seq * 60_000),
                        "payload": {"kind": kind, **fields}, "error": None, "files": files})
    members = [{"account_id": a.account_id.hex(), "role": role, "name": name,
                "fingerprint": safety.fingerprint(a.identity_public), "verified": False,
                "removed": False, "joined_seq": 0}
               for a, role, name in ((therapist, "therapist", "Tiina T"),
                                     (guardian, "guardian", "Äiti"))]
    parts = Parts(
        booklet_id=BOOKLET.hex(), language="fi", exported_at="2026-12-07T10:00:00.000+00:00",
        exporter={k: members[1][k] for k in ("account_id", "name", "role", "fingerprint")},
        joined_seq=0, members=members,
        statements={a.account_id.hex(): a.statement(CREATED).encode()
                    for a in (therapist, guardian)},
        entries=entries, envelopes=sealed,
        files=[(file_path(5, 0, ATTACHMENT["name"]), FILE)], access_log=[],
        history_problems=[])
    return assemble(parts, guardian)


# Changes to the archive and the failures (code, where) verify-export must report, exactly.
# "rezip": the change is made to the members and the zip written again properly;
# "raw": the archive's bytes are changed as they are.
CASES: list[dict[str, Any]] = [
    {"name": "unchanged", "rezip": [], "failures": []},
    {"name": "envelope byte flipped", "rezip": [["flip", "envelopes/000002.bin", 200]],
     "failures": [["file-hash-mismatch", "envelopes/000002.bin"],
                  ["envelope-mismatch", "entry 2 (envelopes/000002.bin)"],
                  ["bad-signature", "entry 2 (envelopes/000002.bin)"],
                  ["chain-broken", "entry 3"]]},
    {"name": "file byte flipped", "rezip": [["flip", "files/000005-01-Suunnitelma.pdf", 5]],
     "failures": [["file-hash-mismatch", "files/000005-01-Suunnitelma.pdf"],
                  ["attachment-mismatch", "files/000005-01-Suunnitelma.pdf"]]},
    {"name": "booklet.html byte flipped", "rezip": [["flip", "booklet.html", 300]],
     "failures": [["file-hash-mismatch", "booklet.html"]]},
    {"name": "signature byte flipped", "rezip": [["flip", "manifest.sig", 0]],
     "failures": [["bad-manifest-signature", "manifest.sig"]]},
    {"name": "signature removed", "rezip": [["remove", "manifest.sig"]],
     "failures": [["signature-missing", "manifest.sig"]]},
    {"name": "envelope removed", "rezip": [["remove", "envelopes/000003.bin"]],
     "failures": [["file-missing", "envelopes/000003.bin"], ["entries-missing", "entry 3"]]},
    {"name": "two envelopes swapped",
     "rezip": [["swap", "envelopes/000003.bin", "envelopes/000004.bin"]],
     "failures": [["file-hash-mismatch", "envelopes/000003.bin"],
                  ["file-hash-mismatch", "envelopes/000004.bin"],
                  ["envelope-mismatch", "entry 3 (envelopes/000003.bin)"],
                  ["envelope-mismatch", "entry 4 (envelopes/000004.bin)"]]},
    {"name": "a file added", "rezip": [["add", "files/extra.txt", "6869"]],
     "failures": [["file-unlisted", "files/extra.txt"]]},
    {"name": "zip header date changed", "raw": [["flip", 12]],
     "failures": [["zip-not-canonical", "archive"]]},
    {"name": "not a zip", "raw": [["truncate", 10]],
     "failures": [["zip-malformed", "archive"]]},
]


def build() -> str:
    vectors = {
        "description": "Export archives (docs/export.md); made by tools/gen_export_vectors.py",
        "crc32": crc32_cases(), "zips": zip_cases(), "manifest_signature": signature_case(),
        "html": html_cases(), "archive": archive().hex(), "cases": CASES,
    }
    return json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.write_text(build(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
