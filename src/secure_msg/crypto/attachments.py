"""Files attached to a document entry (docs/protocol.md §4.5 and §4.7): the attachment record
inside the encrypted payload, the file-name sanitiser and the media-type allow-list.

All pure: crypto/file-meta.mjs does exactly the same, and tests/vectors/file-v1.json holds the
cases both run.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from .errors import ProtocolError
from .file_stream import MAX_FILE_SIZE, FileDecryptor

MAX_ATTACHMENTS = 64
BLOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # it goes into a URL path: no "/", "." or "%"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class JsonInt(Decimal):
    """A JSON number written as an integer (no fraction, no exponent), as the payload reader
    parses it: `size` must be one, and 1.0 or 1e0 must not pass for one in any reader."""


@dataclass(frozen=True)
class Attachment:
    """One file of a document entry, as its encrypted payload names it."""

    blob_id: str  # the server's name for the blob
    file_id: bytes  # 16 bytes, also in the blob's header
    key: bytes  # the 32-byte file key
    name: str  # as the author gave it; sanitise_filename before saving
    media_type: str  # as the author gave it; media_type_policy before showing
    size: int  # plaintext bytes
    sha256: bytes  # SHA-256 of the plaintext

    def to_json(self) -> dict[str, Any]:
        return {
            "blob_id": self.blob_id, "file_id": self.file_id.hex(), "key": self.key.hex(),
            "name": self.name, "media_type": self.media_type, "size": self.size,
            "sha256": self.sha256.hex(),
        }

    @classmethod
    def from_json(cls, value: object) -> Attachment:
        """An attachment of a payload (`bad-payload` for anything §4.5 refuses)."""
        a = check_attachment(value)
        return cls(a["blob_id"], bytes.fromhex(a["file_id"]), bytes.fromhex(a["key"]),
                   a["name"], a["media_type"], a["size"], bytes.fromhex(a["sha256"]))

    def decryptor(self, booklet_id: bytes) -> FileDecryptor:
        return FileDecryptor(self.key, booklet_id, self.file_id, self.size, self.sha256)


def _bad(what: str) -> ProtocolError:
    return ProtocolError("bad-payload", f"attachment {what}")


def check_attachment(value: object) -> dict[str, Any]:
    """The members of one attachment with their forms (§4.5), others left out."""
    if not isinstance(value, dict):
        raise _bad("is not an object")
    out: dict[str, Any] = {}
    for name, pattern in (("blob_id", BLOB_ID), ("file_id", _HEX32), ("key", _HEX64),
                          ("sha256", _HEX64)):
        v = value.get(name)
        if not isinstance(v, str) or not pattern.fullmatch(v):
            raise _bad(name)
        out[name] = v
    for name in ("name", "media_type"):
        if not isinstance(value.get(name), str):
            raise _bad(name)
        out[name] = value[name]
    size = value.get("size")
    if isinstance(size, bool) or not isinstance(size, int | JsonInt):
        raise _bad("size")
    if isinstance(size, JsonInt) and size.is_signed():  # -0 too: no writer writes it
        raise _bad("size")
    if not 0 <= size <= MAX_FILE_SIZE:
        raise _bad("size")
    out["size"] = int(size)
    return out


def check_attachments(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ATTACHMENTS:
        raise _bad(f"list must hold 1 to {MAX_ATTACHMENTS} attachments")
    return [check_attachment(v) for v in value]


# --- file names ------------------------------------------------------------------------------

MAX_NAME_CHARS = 100
_MAX_EXT_CHARS = 10
# Control characters (Cc), the bidi formatting characters of UAX #9 (ALM, LRM, RLM, LRE, RLE,
# PDF, LRO, RLO, LRI, RLI, FSI, PDI: "invoice‮fdp.exe" shows as "invoiceexe.pdf"), the line
# and paragraph separators and the byte-order mark: dropped.
_DROP = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                   "\u2028\u2029\ufeff]")
# Path separators and what Windows refuses in a name: each becomes "_".
_REPLACE = re.compile(r'[/\\:*?"<>|]')
_SURROGATE = re.compile("[\ud800-\udfff]")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})


def sanitise_filename(name: str) -> str:
    """A name safe to save a downloaded file under, in every implementation the same (§4.7):
    lone surrogates become U+FFFD; NFC; controls, bidi controls, U+2028, U+2029 and U+FEFF are
    dropped; / \\ : * ? " < > | become "_"; leading and trailing spaces and dots go; a Windows
    device name gets a "_" in front; at most 100 code points, keeping an extension of up to
    10; "file" when nothing is left."""
    s = unicodedata.normalize("NFC", _SURROGATE.sub("\ufffd", name))
    s = _REPLACE.sub("_", _DROP.sub("", s)).strip(" .")
    if s.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        s = "_" + s
    if len(s) > MAX_NAME_CHARS:
        dot = s.rfind(".")
        ext = s[dot + 1 :] if dot > 0 else ""
        if 1 <= len(ext) <= _MAX_EXT_CHARS:
            s = s[: MAX_NAME_CHARS - 1 - len(ext)].rstrip(" .") + "." + ext
        else:
            s = s[:MAX_NAME_CHARS].rstrip(" .")
    return s or "file"


# --- media types -----------------------------------------------------------------------------

# Shown inline as an image (an <img> of a blob: URL): formats browsers decode as pixels only.
INLINE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
# Offered for download only, never rendered by the app.
DOWNLOAD_TYPES = frozenset({
    "application/pdf",
    "image/heic", "image/heif",
    "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
})
ALLOWED_MEDIA_TYPES = INLINE_IMAGE_TYPES | DOWNLOAD_TYPES
_BY_EXTENSION = {
    "pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
    "webp": "image/webp", "heic": "image/heic", "heif": "image/heif", "txt": "text/plain",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}

MediaPolicy = Literal["inline", "download"]


def normalise_media_type(media_type: str) -> str:
    """Lower case, parameters (after ";") and surrounding spaces and tabs dropped."""
    return media_type.split(";", 1)[0].strip(" \t").lower()


def media_type_policy(
    media_type: str, allowed: frozenset[str] = ALLOWED_MEDIA_TYPES
) -> MediaPolicy | None:
    """"inline" (an image the app may preview), "download" (saved, never rendered) or None (not
    allowed: refused on upload, and on download offered at most as application/octet-stream).
    `allowed` narrows the list (a practice's configuration); it never widens it: HTML, SVG and
    anything else a browser would run stay refused."""
    mt = normalise_media_type(media_type)
    if mt not in allowed or mt not in ALLOWED_MEDIA_TYPES:
        return None
    return "inline" if mt in INLINE_IMAGE_TYPES else "download"


def media_type_for_name(name: str) -> str | None:
    """The allowed media type a file name's extension stands for, or None."""
    dot = name.rfind(".")
    return _BY_EXTENSION.get(name[dot + 1 :].lower()) if dot >= 0 else None
