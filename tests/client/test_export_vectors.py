"""tests/vectors/export-v1.json (docs/export.md): the canonical zips, the manifest signature, the
page, and every change to a whole archive named by `verify-export` exactly as the table says.
tests/js/export.test.mjs runs the zips, the signature and the pages in the browser's code."""

from __future__ import annotations

import copy
import io
import json
import random
import runpy
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import export_html, export_zip
from secure_msg.client.export_verify import verify
from secure_msg.crypto import labels
from secure_msg.crypto.primitives import verify as ed25519_verify

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "tests" / "vectors" / "export-v1.json"
V = json.loads(FILE.read_text(encoding="utf-8"))


def test_the_generator_makes_the_committed_file() -> None:
    gen = runpy.run_path(str(ROOT / "tools" / "gen_export_vectors.py"))
    assert gen["build"]() == FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", V["crc32"], ids=lambda c: str(c["crc32"]))
def test_crc32(case: dict[str, Any]) -> None:
    assert zlib.crc32(bytes.fromhex(case["data"])) == case["crc32"]


@pytest.mark.parametrize("case", V["zips"], ids=lambda c: c["name"])
def test_zips_are_written_and_read_and_any_unzip_opens_them(case: dict[str, Any]) -> None:
    members = [(m["name"], bytes.fromhex(m["data"])) for m in case["members"]]
    data = bytes.fromhex(case["zip"])
    assert export_zip.write(members) == data
    assert export_zip.read(data) == members
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None  # every CRC right
        assert [(i.filename, z.read(i)) for i in z.infolist()] == members
        assert {(i.date_time, i.compress_type, i.extra) for i in z.infolist()} <= {
            ((1980, 1, 1, 0, 0, 0), zipfile.ZIP_STORED, b"")}


def test_the_manifest_signature_verifies() -> None:
    s = V["manifest_signature"]
    ik, sig, manifest = (bytes.fromhex(s[k]) for k in ("identity_key", "signature", "manifest"))
    ed25519_verify(ik, sig, labels.EXPORT_MANIFEST, manifest)
    with pytest.raises(Exception, match="bad-signature"):
        ed25519_verify(ik, sig, labels.EXPORT_MANIFEST, manifest + b" ")


@pytest.mark.parametrize("case", V["html"], ids=lambda c: c["name"])
def test_the_page(case: dict[str, Any]) -> None:
    html = export_html.render(case["doc"])
    assert html == case["html"]
    assert "<script" not in html
    assert "<img" not in html


def _changed(case: dict[str, Any]) -> bytes:
    data = bytes.fromhex(V["archive"])
    if "raw" in case:
        for op, at in case["raw"]:
            data = data[:at] + bytes([data[at] ^ 1]) + data[at + 1:] if op == "flip" \
                else data[:at]
        return data
    files = dict(export_zip.read(data))
    for op, name, *more in case["rezip"]:
        if op == "flip":
            at = more[0]
            files[name] = files[name][:at] + bytes([files[name][at] ^ 1]) + files[name][at + 1:]
        elif op == "remove":
            del files[name]
        elif op == "swap":
            files[name], files[more[0]] = files[more[0]], files[name]
        elif op == "add":
            files[name] = bytes.fromhex(more[0])
    return export_zip.write(list(files.items()))


@pytest.mark.parametrize("case", V["cases"], ids=lambda c: c["name"])
def test_each_change_to_an_archive_is_named(case: dict[str, Any]) -> None:
    report = verify(_changed(case))
    assert sorted([f.code, f.where] for f in report.failures) == sorted(case["failures"])
    assert report.warnings == []


_ODD: list[Any] = [None, 1, -1, 1.5, "x", "zz", [], {}, [[1]], {"seq": [1]}, True, 10**30,
                  "ab" * 16]


def _mutate(value: Any, rnd: random.Random) -> None:
    """Replace one value somewhere in a JSON document by one of another type."""
    while isinstance(value, dict | list) and value:
        key = rnd.choice(list(value)) if isinstance(value, dict) else rnd.randrange(len(value))
        if rnd.random() < 0.4 or not isinstance(value[key], dict | list):
            value[key] = copy.deepcopy(rnd.choice(_ODD))
            return
        value = value[key]


def test_no_change_to_the_json_crashes_the_checker() -> None:
    """An archive is hostile input: whatever a JSON file holds, each check names a failure."""
    files = dict(export_zip.read(bytes.fromhex(V["archive"])))
    rnd = random.Random(17)
    for _ in range(300):
        name = rnd.choice(["manifest.json", "booklet.json"])
        doc = json.loads(files[name])
        _mutate(doc, rnd)
        changed = {**files, name: json.dumps(doc).encode()}
        report = verify(export_zip.write(list(changed.items())))
        assert not report.ok


def test_a_flipped_bit_anywhere_is_found() -> None:
    """Every 13th byte of the whole archive, and every byte of its central directory and end
    record: each flip fails the check (all 14 235 pass too; sampled to stay fast)."""
    data = bytes.fromhex(V["archive"])
    start = data.find(b"PK\x01\x02")  # the central directory's first entry
    assert start > 0
    positions = sorted(set(range(0, len(data), 13)) | set(range(start, len(data))))
    missed = [at for at in positions
              if verify(data[:at] + bytes([data[at] ^ (1 << at % 8)]) + data[at + 1:]).ok]
    assert missed == []
