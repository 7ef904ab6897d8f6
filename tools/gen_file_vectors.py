"""Generate tests/vectors/file-v1.json: the file blob of docs/protocol.md §4.7, the document
payload's attachments (§4.5), the file-name sanitiser and the media-type allow-list, which the
Python client and the web inbox both run.

Blobs are laid out here from the spec with the primitives (HKDF, AES-256-GCM), not with
crypto/file_stream.py, so the tests check the implementation against this text; keys, ids and
plaintexts come from fixed seeds. Every expected error code and every expected sanitised name,
policy and length is written by hand from the spec, not computed. Running the script twice gives
the same bytes (tests/crypto/test_file_vectors.py checks it).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secure_msg.crypto.rng import SeededRng

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "file-v1.json"
SEED = "secure-msg/v1/vectors/file/"
BOOKLET = bytes.fromhex("b0" * 16)
OTHER_BOOKLET = bytes.fromhex("b1" * 16)


def drawn(what: str, n: int) -> bytes:
    return SeededRng(f"{SEED}{what}".encode())(n)


def header(booklet_id: bytes, file_id: bytes, chunk_size: int) -> bytes:
    """§4.7: 01 0001 50 | booklet_id | file_id | chunk_size u32."""
    return b"\x01\x00\x01\x50" + booklet_id + file_id + chunk_size.to_bytes(4, "big")


def chunk_key(file_key: bytes, booklet_id: bytes, file_id: bytes) -> bytes:
    info = b"secure-msg/v1/file-chunk-key\x00" + booklet_id + file_id
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(file_key)


def nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + bytes([1 if final else 0])


def chunks_of(plaintext: bytes, chunk_size: int) -> list[bytes]:
    """At least one chunk; only the last may be short, and empty only for an empty file."""
    return [plaintext[i : i + chunk_size] for i in range(0, len(plaintext), chunk_size)] or [b""]


def encrypted_chunks(plaintext: bytes, file_key: bytes, booklet_id: bytes, file_id: bytes,
                     chunk_size: int) -> tuple[bytes, list[bytes]]:
    head = header(booklet_id, file_id, chunk_size)
    aead = AESGCM(chunk_key(file_key, booklet_id, file_id))
    parts = chunks_of(plaintext, chunk_size)
    return head, [aead.encrypt(nonce(i, i == len(parts) - 1), p, head)
                  for i, p in enumerate(parts)]


class File:
    """One file's inputs, drawn from its name, and its blob."""

    def __init__(self, name: str, size: int, chunk_size: int, booklet_id: bytes = BOOKLET,
                 *, file_key: bytes | None = None, file_id: bytes | None = None) -> None:
        self.name = name
        self.plaintext = drawn(f"plaintext/{name}", size)
        self.file_key = file_key or drawn(f"file-key/{name}", 32)
        self.file_id = file_id or drawn(f"file-id/{name}", 16)
        self.booklet_id = booklet_id
        self.chunk_size = chunk_size
        self.header, self.chunks = encrypted_chunks(self.plaintext, self.file_key, booklet_id,
                                                    self.file_id, chunk_size)

    @property
    def blob(self) -> bytes:
        return self.header + b"".join(self.chunks)

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.plaintext).digest()

    def context(self) -> dict[str, Any]:
        """What the reader is given: its booklet and the entry's attachment."""
        return {"booklet_id": self.booklet_id.hex(), "file_key": self.file_key.hex(),
                "file_id": self.file_id.hex(), "size": len(self.plaintext),
                "sha256": self.sha256.hex()}


def blob_vectors() -> tuple[list[dict[str, Any]], dict[str, File]]:
    cases = [
        ("empty file", 0, 64),
        ("one byte", 1, 64),
        ("exactly one chunk", 64, 64),
        ("one chunk and one byte", 65, 64),
        ("two full chunks", 128, 64),
        ("several chunks, the last short", 200, 64),
        ("the writers' chunk size, a short file", 100, 65536),
        ("the largest chunk size", 10, 1_048_576),
    ]
    out, files = [], {}
    for name, size, chunk_size in cases:
        f = File(name, size, chunk_size)
        files[name] = f
        out.append({
            "name": name, **f.context(), "chunk_size": chunk_size,
            "plaintext": f.plaintext.hex(),
            "chunk_key": chunk_key(f.file_key, f.booklet_id, f.file_id).hex(),
            "header": f.header.hex(), "blob_length": len(f.blob), "blob": f.blob.hex(),
        })
    return out, files


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def negative_vectors(files: dict[str, File]) -> list[dict[str, Any]]:
    f = files["several chunks, the last short"]  # 64 + 64 + 64 + 8 bytes: four chunks
    h, c = f.header, f.chunks
    empty = files["empty file"]
    # The same key, another file id: a chunk of it in f's place, and its whole blob.
    sibling = File("sibling", 200, 64, file_key=f.file_key)
    # The same key and file id in another booklet (a client that reused both).
    elsewhere = File("elsewhere", 200, 64, OTHER_BOOKLET, file_key=f.file_key,
                     file_id=f.file_id)
    # The entry names another plaintext than the one the author encrypted.
    other_text = File("other plaintext", 200, 64, file_key=f.file_key, file_id=f.file_id)

    def case(name: str, blob: bytes, error: str, **context: Any) -> dict[str, Any]:
        ctx = {**f.context(), **context}
        return {"name": name, **ctx, "blob": blob.hex(), "error": error}

    def with_header(byte_offset: int, value: int) -> bytes:
        b = bytearray(f.blob)
        b[byte_offset] = value
        return bytes(b)

    def chunk_size_header(n: int) -> bytes:
        return h[:36] + n.to_bytes(4, "big") + b"".join(c)

    return [
        case("empty blob", b"", "file-truncated"),
        case("ends inside the header", f.blob[:39], "file-truncated"),
        case("header only", h, "file-truncated"),
        case("an empty file's header only", empty.header, "file-truncated", **empty.context()),
        case("last chunk dropped", h + b"".join(c[:3]), "file-truncated"),
        case("ends inside the last chunk", f.blob[:-1], "file-truncated"),
        case("ends inside the first chunk", f.blob[:40 + 79], "file-truncated"),
        case("a chunk appended", f.blob + c[3], "file-extended"),
        case("one byte appended", f.blob + b"\x00", "file-extended"),
        case("an empty file with a byte appended", empty.blob + b"\x00", "file-extended",
             **empty.context()),
        case("chunks 0 and 1 swapped", h + c[1] + c[0] + c[2] + c[3], "file-chunk-order"),
        case("chunk 0 in place of chunk 2", h + c[0] + c[1] + c[0] + c[3], "file-chunk-order"),
        case("chunk 1 of another file with the same key", h + c[0] + sibling.chunks[1] + c[2]
             + c[3], "file-chunk-invalid"),
        case("chunk 1 of the same file in another booklet", h + c[0] + elsewhere.chunks[1]
             + c[2] + c[3], "file-chunk-invalid"),
        case("the blob of another file with the same key", sibling.blob, "file-wrong-file"),
        case("the blob of the same file in another booklet", elsewhere.blob, "wrong-booklet"),
        case("a flipped byte in chunk 1's ciphertext", flip(f.blob, 40 + 80 + 5),
             "file-chunk-invalid"),
        case("a flipped byte in the last chunk's tag", flip(f.blob, len(f.blob) - 1),
             "file-chunk-invalid"),
        case("a flipped byte in the header's booklet id", flip(f.blob, 4), "wrong-booklet"),
        case("a flipped byte in the header's file id", flip(f.blob, 20), "file-wrong-file"),
        case("chunk size 128 in the header", chunk_size_header(128), "file-chunk-invalid"),
        case("chunk size 65 in the header", chunk_size_header(65), "malformed"),
        case("chunk size 32 in the header", chunk_size_header(32), "malformed"),
        case("chunk size 2 MiB in the header", chunk_size_header(2_097_152), "malformed"),
        case("the wrong key", f.blob, "file-chunk-invalid",
             file_key=drawn("wrong key", 32).hex()),
        case("version 2", with_header(0, 2), "unsupported-version"),
        case("suite 2", with_header(2, 2), "unsupported-suite"),
        case("type 0x11 (an entry)", with_header(3, 0x11), "wrong-type"),
        case("the hash of another plaintext", other_text.blob, "file-hash-mismatch"),
        case("a hash with a flipped bit", f.blob, "file-hash-mismatch",
             sha256=flip(f.sha256, 0).hex()),
        case("the entry says one byte more", f.blob, "file-truncated",
             size=len(f.plaintext) + 1),
        case("the entry says one byte less", f.blob, "file-chunk-invalid",
             size=len(f.plaintext) - 1),
        case("the entry says one chunk less", f.blob, "file-chunk-invalid",
             size=len(f.plaintext) - 8),
    ]


# --- payloads (§4.5, the second form of `document`) -----------------------------------------

def _attachment(n: int, **changes: Any) -> dict[str, Any]:
    a: dict[str, Any] = {
        "blob_id": drawn(f"blob-id/{n}", 16).hex(), "file_id": drawn(f"att-file-id/{n}", 16).hex(),
        "key": drawn(f"att-key/{n}", 32).hex(), "name": f"scan {n}.pdf",
        "media_type": "application/pdf", "size": 1000 * n,
        "sha256": drawn(f"att-sha/{n}", 32).hex(),
    }
    for k, v in changes.items():
        if v is _DROP:
            del a[k]
        else:
            a[k] = v
    return a


_DROP = object()


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def payload_vectors() -> list[dict[str, Any]]:
    def ok(name: str, plaintext: bytes, payload: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "kind": "document", "kind_id": 5, "plaintext": plaintext.hex(),
                "payload": payload}

    def bad(name: str, plaintext: bytes) -> dict[str, Any]:
        return {"name": name, "kind": "document", "kind_id": 5, "plaintext": plaintext.hex(),
                "error": "bad-payload"}

    def doc(*atts: Any, **extra: Any) -> bytes:
        return _json({"kind": "document", "attachments": list(atts), **extra})

    def raw_size(text: str) -> bytes:
        """An attachment whose size is written as `text`, as no json.dumps writes it."""
        return doc(_attachment(1, size=0)).replace(b'"size":0', b'"size":' + text.encode())

    a1, a2 = _attachment(1), _attachment(2, name="kuva 😀.jpg", media_type="image/jpeg")
    out = [
        ok("one attachment", doc(a1), {"kind": "document", "attachments": [a1]}),
        ok("two attachments and a text", doc(a1, a2, text="Terapiasuunnitelma"),
           {"kind": "document", "attachments": [a1, a2], "text": "Terapiasuunnitelma"}),
        ok("unknown members are left out", doc({**a1, "thumbnail": "x", "pages": 3.5},
                                               version=2),
           {"kind": "document", "attachments": [a1]}),
        ok("the first form's members are not read beside attachments",
           doc(a1, name=1, data=None), {"kind": "document", "attachments": [a1]}),
        ok("the first form is still read",
           _json({"kind": "document", "name": "a.pdf", "media_type": "application/pdf",
                  "data": "AAEC"}),
           {"kind": "document", "name": "a.pdf", "media_type": "application/pdf",
            "data": "AAEC"}),
        ok("size 0", raw_size("0"), {"kind": "document", "attachments": [_attachment(1, size=0)]}),
        ok("size 2^53 - 1", raw_size("9007199254740991"),
           {"kind": "document", "attachments": [_attachment(1, size=9007199254740991)]}),
        ok("an empty name and media type, read as written",
           doc(_attachment(1, name="", media_type="")),
           {"kind": "document", "attachments": [_attachment(1, name="", media_type="")]}),
        bad("attachments empty", doc()),
        bad("65 attachments", doc(*[a1] * 65)),
        bad("attachments not a list", _json({"kind": "document", "attachments": a1})),
        bad("attachments null", _json({"kind": "document", "attachments": None})),
        bad("an attachment not an object", doc([a1])),
        bad("text not a string", doc(a1, text=5)),
        bad("size 1.0", raw_size("1.0")),
        bad("size 1e3", raw_size("1e3")),
        bad("size 1E0", raw_size("1E0")),
        bad("size -1", raw_size("-1")),
        bad("size -0", raw_size("-0")),
        bad("size 2^53", raw_size("9007199254740992")),
        bad("size a string", doc(_attachment(1, size="12"))),
        bad("size true", doc(_attachment(1, size=True))),
        bad("size missing", doc(_attachment(1, size=_DROP))),
        bad("file_id upper case", doc(_attachment(1, file_id="AB" * 16))),
        bad("file_id 30 digits", doc(_attachment(1, file_id="ab" * 15))),
        bad("key 63 digits", doc(_attachment(1, key="a" * 63))),
        bad("key missing", doc(_attachment(1, key=_DROP))),
        bad("sha256 null", doc(_attachment(1, sha256=None))),
        bad("blob_id with a slash", doc(_attachment(1, blob_id="ab/cd"))),
        bad("blob_id ..", doc(_attachment(1, blob_id=".."))),
        bad("blob_id empty", doc(_attachment(1, blob_id=""))),
        bad("blob_id of 129 characters", doc(_attachment(1, blob_id="a" * 129))),
        bad("blob_id with a newline at the end", doc(_attachment(1, blob_id="abc\n"))),
        bad("name missing", doc(_attachment(1, name=_DROP))),
        bad("name null", doc(_attachment(1, name=None))),
        bad("media_type a number", doc(_attachment(1, media_type=1))),
    ]
    out.append(ok("blob_id of 128 characters", doc(_attachment(1, blob_id="a_-Z9" * 25 + "abc")),
                  {"kind": "document",
                   "attachments": [_attachment(1, blob_id="a_-Z9" * 25 + "abc")]}))
    return out


# --- names, media types, lengths ------------------------------------------------------------

FILENAMES: list[tuple[str, str]] = [
    ("scan.pdf", "scan.pdf"),
    ("Terapiasuunnitelma 2026.pdf", "Terapiasuunnitelma 2026.pdf"),
    ("Lausunto la\u0308a\u0308ka\u0308rille.docx", "Lausunto l\u00e4\u00e4k\u00e4rille.docx"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("a\u2066b\u2067c\u2068d\u2069e\u200ef\u200fg\u061ch\u202ai\u202bj\u202ck\u202dl.txt",
     "abcdefghijkl.txt"),
    ("line\nbreak\r\ttab\x00nul\x7fdel\x85nel.pdf", "linebreaktabnuldelnel.pdf"),
    ("\ufeffbom\u2028ls\u2029ps.png", "bomlsps.png"),
    ("../../etc/passwd", "_.._etc_passwd"),
    ("..\\..\\Windows\\win.ini", "_.._Windows_win.ini"),
    ("C:\\Users\\x.pdf", "C__Users_x.pdf"),
    ('a*b?c"d<e>f|g:h.pdf', "a_b_c_d_e_f_g_h.pdf"),
    (".bashrc", "bashrc"),
    ("...hidden.pdf", "hidden.pdf"),
    ("  spaced  .pdf  ", "spaced  .pdf"),
    ("trailing. . .", "trailing"),
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("LPT1.pdf", "_LPT1.pdf"),
    ("Nul .tar.gz", "_Nul .tar.gz"),
    ("COM10.pdf", "COM10.pdf"),
    ("CONSOLE.pdf", "CONSOLE.pdf"),
    ("", "file"),
    ("...", "file"),
    ("\u202e", "file"),
    (" / ", "_"),
    ("a" * 150 + ".pdf", "a" * 96 + ".pdf"),
    ("a" * 150, "a" * 100),
    ("a" * 150 + ".verylongextension", "a" * 100),
    ("b" * 96 + "    " + "c" * 10, "b" * 96),
    ("b" * 94 + " . . .jpeg", "b" * 94 + ".jpeg"),
    ("b" * 94 + " . . .jpeg" + "z" * 50, "b" * 94),
    ("b" * 90 + "." * 20 + ".png", "b" * 90 + ".png"),
    ("😀" * 120 + ".jpg", "😀" * 96 + ".jpg"),
    ("x\ud800y.pdf", "x\ufffdy.pdf"),
    ("Ａ\u0301.pdf", "Ａ\u0301.pdf"),
    ("ﬁle.pdf", "ﬁle.pdf"),  # NFC, not NFKC: a ligature stays
]

MEDIA_TYPES: list[tuple[str, str | None]] = [
    ("application/pdf", "download"),
    ("image/jpeg", "inline"),
    ("image/png", "inline"),
    ("image/webp", "inline"),
    ("IMAGE/JPEG", "inline"),
    ("image/png; charset=binary", "inline"),
    (" \timage/webp ", "inline"),
    ("image/heic", "download"),
    ("image/heif", "download"),
    ("text/plain", "download"),
    ("text/plain;charset=utf-8", "download"),
    ("application/msword", "download"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "download"),
    ("application/vnd.ms-excel", "download"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "download"),
    ("application/vnd.ms-powerpoint", "download"),
    ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "download"),
    ("application/vnd.oasis.opendocument.text", "download"),
    ("application/vnd.oasis.opendocument.spreadsheet", "download"),
    ("application/vnd.oasis.opendocument.presentation", "download"),
    ("text/html", None),
    ("image/svg+xml", None),
    ("application/xhtml+xml", None),
    ("text/xml", None),
    ("application/javascript", None),
    ("image/gif", None),
    ("application/octet-stream", None),
    ("application/pdf+html", None),
    ("image/jpeg\x00", None),
    ("", None),
]

NAMES_TO_TYPES: list[tuple[str, str | None]] = [
    ("scan.pdf", "application/pdf"),
    ("SCAN.PDF", "application/pdf"),
    ("photo.jpg", "image/jpeg"),
    ("photo.JPEG", "image/jpeg"),
    ("IMG_0001.HEIC", "image/heic"),
    ("kuva.webp", "image/webp"),
    ("a.b.png", "image/png"),
    (".png", "image/png"),
    ("lausunto.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("taulukko.ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("notes.txt", "text/plain"),
    ("page.html", None),
    ("drawing.svg", None),
    ("archive.tar.gz", None),
    ("pdf", None),
    ("noextension", None),
    ("trailing.", None),
]

# (blob length, chunk size, file size or None when no blob has that length)
LENGTHS: list[tuple[int, int, int | None]] = [
    (0, 64, None), (40, 64, None), (55, 64, None), (56, 64, 0), (57, 64, 1), (72, 64, 16),
    (120, 64, 64), (121, 64, None), (136, 64, None), (137, 64, 65), (200, 64, 128),
    (290, 64, None), (304, 64, 200), (56, 65536, 0), (40 + 16 + 65536, 65536, 65536),
    (40 + 16 + 65537, 65536, None), (40 + 32 + 65537, 65536, 65537),
    (40 + 382 * 16 + 25_000_000, 65536, 25_000_000),
    (40 + 382 * 16 + 25_000_001, 65536, 25_000_001),
]


def build() -> str:
    blobs, files = blob_vectors()
    doc = {
        "description": "File blobs of docs/protocol.md §4.7 and the document payload's "
                       "attachments (§4.5). Bytes are lowercase hex. A `negative` case gives "
                       "the reader's context (booklet, and the attachment's key, file id, size "
                       "and sha256) and the expected error. `filenames` are [input, sanitised], "
                       "`media_types` [media type, policy or null], `names_to_types` [file name, "
                       "media type or null], `lengths` [blob length, chunk size, file size or "
                       "null]. Every expectation is written by hand from the spec.",
        "generator": "tools/gen_file_vectors.py",
        "version": 1,
        "suite": 1,
        "blobs": blobs,
        "negative": negative_vectors(files),
        "payloads": payload_vectors(),
        "filenames": [list(p) for p in FILENAMES],
        "media_types": [list(p) for p in MEDIA_TYPES],
        "names_to_types": [list(p) for p in NAMES_TO_TYPES],
        "lengths": [list(p) for p in LENGTHS],
    }
    # ASCII only: one name holds a lone surrogate, which UTF-8 cannot carry.
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


if __name__ == "__main__":
    text = build()
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")
