"""Export a booklet for the patient record (docs/export.md): one zip with the booklet decrypted
on this device (booklet.json, a printable booklet.html, the attached files) beside the signed
envelopes it came from, a manifest of every file's SHA-256 and each entry's content key, and
the exporter's signature over the manifest. `export_verify.verify` checks it offline.

The archive holds the content keys of the entries it holds in plaintext anyway: with them a
verifier shows that booklet.json says what each author signed, and they open nothing else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from secure_msg.base64url import decode as b64decode
from secure_msg.client import access_log, blobs
from secure_msg.client.client import Client, MemberInfo
from secure_msg.client.http import ClientError
from secure_msg.clock import ms_to_iso
from secure_msg.crypto import envelope, keys, labels, safety
from secure_msg.crypto.attachments import Attachment, sanitise_filename
from secure_msg.crypto.envelope import KINDS
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.file_stream import MIN_CHUNK_SIZE, blob_length
from secure_msg.crypto.payloads import decode_payload
from secure_msg.crypto.primitives import sign
from secure_msg.model.access_log import ExportKind

from . import export_html, export_zip

FORMAT = "secure-msg-export"
VERSION = 1
MANIFEST, SIGNATURE, BOOKLET_JSON, BOOKLET_HTML = (
    "manifest.json", "manifest.sig", "booklet.json", "booklet.html")
LANGUAGES = ("fi", "sv", "en")

# (booklet id, entry seq, attachment index, attachment) -> the file's checked plaintext, or
# why it is left out: "unavailable" or "protocol/<code>" (docs/export.md §8).
FetchFile = Callable[[str, int, int, dict[str, Any]], Awaitable[bytes | str]]


def envelope_path(seq: int) -> str:
    return f"envelopes/{seq:06d}.bin"


def file_path(seq: int, index: int, name: str) -> str:
    """Unique by entry and position, readable by the sanitised name the author gave."""
    return f"files/{seq:06d}-{index + 1:02d}-{sanitise_filename(name)}"


def plain(value: Any) -> Any:
    """A decoded payload as JSON writes it: the reader's exact numbers as ints (or floats)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Plain SHA-256, not the protocol's labelled hash: `sha256sum` checks an unpacked file."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Exported:
    archive: bytes
    entries: int
    files: int
    missing_files: int
    problems: list[dict[str, Any]]


def blob_fetcher(client: Client) -> FetchFile:
    """Download each attachment's blob and open it with every check of §4.7. The file is held
    in memory (the archive is built there); a blob longer than the file's largest possible one
    is refused as it comes, so a server cannot make the client hold more."""

    async def fetch(booklet_id: str, seq: int, index: int, a: dict[str, Any]) -> bytes | str:
        try:
            att = Attachment.from_json(a)
            dec = att.decryptor(bytes.fromhex(booklet_id))
            out = bytearray()
            await blobs.download(client.api, booklet_id, att.blob_id,
                                 lambda data: out.extend(dec.update(data)),
                                 blob_length(att.size, MIN_CHUNK_SIZE))
            dec.finish()
        except ProtocolError as exc:
            return f"protocol/{exc.code}"
        except ClientError as exc:
            if exc.code.startswith("protocol/"):
                return exc.code
            if exc.code == "blob-too-large":  # the server sent more than the file can be
                return "protocol/file-extended"
            if exc.status == 0 or exc.status >= 500 or exc.status == 401:
                raise  # the network or the session failed, not this file
            return "unavailable"
        return bytes(out)

    return fetch


async def _statements(client: Client, booklet_id: str, members: list[MemberInfo]
                      ) -> dict[str, bytes]:
    """Each member's key statement as served, once it is the one the members check accepted
    (the same identity key as pinned): the verifier checks signatures with these."""
    data = await client.api.call("GET", f"/api/booklets/{booklet_id}/members",
                                 params={"all": "1"})
    known = {m.account_id: m for m in members}
    out: dict[str, bytes] = {}
    for raw in data["members"]:
        st = b64decode(raw["key_statement"])
        m = known.get(raw["account_id"])
        if m is None or st[20:52] != m.identity_key:
            raise ClientError(0, "protocol/identity-key-changed",
                              "A member's key changed while exporting; try again")
        out[m.account_id] = st
    return out


async def build(client: Client, booklet_id: str, *, language: str = "en",
                fetch_file: FetchFile | None = None, now_ms: int | None = None) -> Exported:
    """Read the whole booklet, record the export in its access log, and build the archive."""
    fetch_file = fetch_file or blob_fetcher(client)
    me = client._me()
    members = await client.members(booklet_id, include_removed=True)
    statements = await _statements(client, booklet_id, members)
    mine = next((m for m in members if m.account_id == me.account_id.hex()), None)
    if mine is None:
        raise ClientError(404, "not-found", "Not a member of this booklet")
    read = await client._read_checked(booklet_id, 0)
    problems = [p.to_json() for p in client.history_problems.get(booklet_id, [])]

    entries: list[dict[str, Any]] = []
    sealed: list[tuple[int, bytes, bytes | None]] = []
    files: list[tuple[str, bytes]] = []
    missing = 0
    for raw, opened in read:
        seq = int(raw["seq"])
        item: dict[str, Any] = {
            "seq": seq, "entry_id": raw["entry_id"], "author_id": raw["author_id"],
            "kind": None, "created_at": raw["created_at"], "payload": None, "error": None,
            "files": []}
        key: bytes | None = None
        if isinstance(opened, ClientError):
            item["error"] = opened.code
        else:
            item["kind"] = KINDS[opened.header.kind]
            item["created_at"] = ms_to_iso(opened.header.created_at)
            try:
                item["payload"] = plain(decode_payload(opened.header.kind, opened.plaintext))
                key = opened.content_key
            except ProtocolError as exc:
                item["error"] = f"protocol/{exc.code}"
        for i, a in enumerate((item["payload"] or {}).get("attachments") or []):
            data = await fetch_file(booklet_id, seq, i, a)
            if isinstance(data, str):
                missing += 1
                item["files"].append({"attachment": i, "path": None, "missing": data})
                continue
            path = file_path(seq, i, a["name"])
            files.append((path, data))
            item["files"].append({"attachment": i, "path": path, "missing": None})
        entries.append(item)
        sealed.append((seq, b64decode(raw["envelope"]), key))

    # Recorded before the log is read, so that the archive shows its own export.
    await access_log.record_export(client, booklet_id, ExportKind.BOOKLET.value, len(entries))
    table = access_log.rows(await access_log.fetch(client, booklet_id), members)
    parts = Parts(
        booklet_id=booklet_id, language=language,
        exported_at=ms_to_iso(now_ms if now_ms is not None else client.now_ms()),
        exporter={"account_id": mine.account_id, "name": mine.name, "role": mine.role,
                  "fingerprint": mine.fingerprint},
        joined_seq=mine.joined_seq,
        members=[{"account_id": m.account_id, "role": m.pinned_role or m.role,
                  "name": m.name, "fingerprint": m.fingerprint, "verified": m.verified,
                  "removed": m.removed, "joined_seq": m.joined_seq} for m in members],
        statements=statements, entries=entries, envelopes=sealed, files=files,
        access_log=[{**r.item, "who": r.who, "what": r.what} for r in table],
        history_problems=problems)
    return Exported(assemble(parts, me), len(entries), len(files), missing, problems)


@dataclass(frozen=True)
class Parts:
    """Everything an archive holds, gathered and decrypted; `assemble` makes the bytes."""

    booklet_id: str
    language: str
    exported_at: str
    exporter: dict[str, Any]  # booklet.json's: account_id, name, role, fingerprint
    joined_seq: int
    members: list[dict[str, Any]]  # booklet.json's
    statements: dict[str, bytes]  # account id -> key statement
    entries: list[dict[str, Any]]  # booklet.json's, in sequence order
    envelopes: list[tuple[int, bytes, bytes | None]]  # (seq, envelope, content key)
    files: list[tuple[str, bytes]]  # (path under files/, plaintext)
    access_log: list[dict[str, Any]]
    history_problems: list[dict[str, Any]]


def assemble(parts: Parts, me: keys.AccountKeys) -> bytes:
    """The archive of `parts`, signed by `me`: no network, no clock (docs/export.md)."""
    entries = parts.entries
    title = next((e["payload"]["title"] for e in reversed(entries)
                  if e["kind"] == "title" and e["payload"]), None)
    doc = {
        "format": FORMAT, "version": VERSION, "booklet_id": parts.booklet_id, "title": title,
        "exported_at": parts.exported_at,
        "language": parts.language if parts.language in LANGUAGES else "en",
        "exporter": parts.exporter, "members": parts.members, "entries": entries,
        "homework": homework(entries), "access_log": parts.access_log,
        "history_problems": parts.history_problems,
    }
    sealed = [(envelope_path(seq), data) for seq, data, _ in parts.envelopes]
    body = [(BOOKLET_JSON, dumps(doc)), (BOOKLET_HTML, export_html.render(doc).encode("utf-8")),
            *sealed, *parts.files]
    manifest = {
        "format": FORMAT, "version": VERSION, "booklet_id": parts.booklet_id,
        "exported_at": parts.exported_at,
        "exporter": {"account_id": me.account_id.hex(), "identity_key": me.identity_public.hex(),
                     "fingerprint": safety.fingerprint(me.identity_public)},
        "joined_seq": parts.joined_seq,
        "members": [{"account_id": m["account_id"], "role": m["role"],
                     "key_statement": parts.statements[m["account_id"]].hex()}
                    for m in parts.members],
        "envelopes": [{"seq": seq, "path": envelope_path(seq),
                       "entry_hash": envelope.entry_hash(data).hex(),
                       "content_key": key.hex() if key is not None else None}
                      for seq, data, key in parts.envelopes],
        "files": [{"path": p, "size": len(d), "sha256": sha256_hex(d)} for p, d in body],
    }
    manifest_bytes = dumps(manifest)
    signature = sign(me.identity, labels.EXPORT_MANIFEST, manifest_bytes)
    return export_zip.write([(MANIFEST, manifest_bytes), (SIGNATURE, signature), *body])


def homework(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each homework with the logs that name it, oldest first."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        p = e["payload"]
        if e["kind"] == "homework" and p:
            out[e["entry_id"]] = {"entry_id": e["entry_id"], "seq": e["seq"],
                                  "task": p["task"], "frequency": p["frequency"],
                                  "text": p.get("text"), "logs": []}
    for e in entries:
        p = e["payload"]
        if e["kind"] == "homework-log" and p and p["homework"] in out:
            out[p["homework"]]["logs"].append({
                "seq": e["seq"], "entry_id": e["entry_id"], "author_id": e["author_id"],
                "done": p["done"], "how": p["how"], "date": p["date"],
                "created_at": e["created_at"]})
    return list(out.values())
