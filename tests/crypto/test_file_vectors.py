"""tests/vectors/file-v1.json against the Python implementation: file blobs (§4.7), the
document payload's attachments (§4.5), file names and media types."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from secure_msg.crypto import file_stream as fs
from secure_msg.crypto.attachments import (
    Attachment,
    media_type_for_name,
    media_type_policy,
    sanitise_filename,
)
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.payloads import decode_payload, encode_payload

ROOT = Path(__file__).resolve().parents[2]
PATH = ROOT / "tests" / "vectors" / "file-v1.json"
V = json.loads(PATH.read_text(encoding="utf-8"))
h = bytes.fromhex


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


def _decryptor(case: dict[str, Any]) -> fs.FileDecryptor:
    return fs.FileDecryptor(h(case["file_key"]), h(case["booklet_id"]), h(case["file_id"]),
                            case["size"], h(case["sha256"]))


def _splits(blob: bytes) -> list[list[bytes]]:
    """The whole blob at once, byte by byte, and in pieces of 7 and 100 bytes."""
    return [[blob], [blob[i : i + 1] for i in range(len(blob))],
            [blob[i : i + 7] for i in range(0, len(blob), 7)],
            [blob[i : i + 100] for i in range(0, len(blob), 100)]]


def test_vectors_file_is_what_the_generator_makes() -> None:
    """tools/gen_file_vectors.py regenerates the committed file byte for byte."""
    gen = runpy.run_path(str(ROOT / "tools" / "gen_file_vectors.py"))
    assert gen["build"]() == PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", V["blobs"], ids=_ids(V["blobs"]))
def test_blob_vector(case: dict[str, Any]) -> None:
    """The encryptor writes the vector's blob; the decryptor gives the plaintext back however
    the blob is cut; the keyless helpers agree with its header and length."""
    plaintext, blob = h(case["plaintext"]), h(case["blob"])
    assert fs.chunk_key(h(case["file_key"]), h(case["booklet_id"]), h(case["file_id"])).hex() \
        == case["chunk_key"]
    enc = fs.FileEncryptor(h(case["booklet_id"]), file_key=h(case["file_key"]),
                           file_id=h(case["file_id"]), chunk_size=case["chunk_size"])
    assert b"".join(enc.encrypt([plaintext[i : i + 50] for i in range(0, len(plaintext), 50)])) \
        == blob
    assert (enc.size, enc.sha256.hex()) == (case["size"], case["sha256"])
    assert enc.header.hex() == case["header"]
    for pieces in _splits(blob):
        assert b"".join(_decryptor(case).decrypt(pieces)) == plaintext
    header = fs.parse_header(blob)
    assert (header.booklet_id.hex(), header.file_id.hex(), header.chunk_size) == (
        case["booklet_id"], case["file_id"], case["chunk_size"])
    assert len(blob) == case["blob_length"] == fs.blob_length(case["size"], case["chunk_size"])
    assert fs.plaintext_length(len(blob), case["chunk_size"]) == case["size"]


@pytest.mark.parametrize("case", V["negative"], ids=_ids(V["negative"]))
def test_negative_vector(case: dict[str, Any]) -> None:
    """Each damaged blob fails with its named code, wherever the pieces are cut, and the reader
    keeps failing afterwards."""
    for pieces in _splits(h(case["blob"])):
        dec = _decryptor(case)
        with pytest.raises(ProtocolError) as err:
            for _ in dec.decrypt(pieces):
                pass
        assert err.value.code == case["error"], case["name"]
        with pytest.raises(ProtocolError) as again:
            dec.finish()
        assert again.value.code == case["error"]


@pytest.mark.parametrize("case", V["payloads"], ids=_ids(V["payloads"]))
def test_payload_vector(case: dict[str, Any]) -> None:
    plaintext = h(case["plaintext"])
    if "error" in case:
        with pytest.raises(ProtocolError) as err:
            decode_payload(case["kind_id"], plaintext)
        assert err.value.code == case["error"]
        return
    payload = decode_payload(case["kind_id"], plaintext)
    assert payload == case["payload"]
    # What a reader returns, a writer writes back, and it reads the same.
    fields = {k: v for k, v in payload.items() if k != "kind"}
    assert decode_payload(case["kind_id"], encode_payload("document", **fields)) == payload
    for att in payload.get("attachments", []):
        assert Attachment.from_json(att).to_json() == att


@pytest.mark.parametrize(("name", "expected"), V["filenames"])
def test_filename_vector(name: str, expected: str) -> None:
    assert sanitise_filename(name) == expected
    assert sanitise_filename(expected) == expected  # a sanitised name stays as it is


@pytest.mark.parametrize(("media_type", "policy"), V["media_types"])
def test_media_type_vector(media_type: str, policy: str | None) -> None:
    assert media_type_policy(media_type) == policy


@pytest.mark.parametrize(("name", "media_type"), V["names_to_types"])
def test_name_to_type_vector(name: str, media_type: str | None) -> None:
    assert media_type_for_name(name) == media_type


@pytest.mark.parametrize(("blob_len", "chunk_size", "size"), V["lengths"])
def test_length_vector(blob_len: int, chunk_size: int, size: int | None) -> None:
    assert fs.plaintext_length(blob_len, chunk_size) == size
    if size is not None:
        assert fs.blob_length(size, chunk_size) == blob_len
