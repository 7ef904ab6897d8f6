"""Check an export archive offline (docs/export.md §6): no server, no account, no pins.

Every check runs (one failure does not hide the next) and each failure is named: what was
checked, where, and the code a script can match on. What a passing check proves, and what it
cannot, is written down in docs/export.md §7.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from secure_msg.client import access_log, export_zip, history
from secure_msg.client.export import (
    BOOKLET_JSON,
    FORMAT,
    MANIFEST,
    SIGNATURE,
    VERSION,
    plain,
    sha256_hex,
)
from secure_msg.crypto import envelope, keys, labels, safety
from secure_msg.crypto.envelope import KINDS
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.payloads import decode_payload
from secure_msg.crypto.primitives import verify as ed25519_verify
from secure_msg.model.booklets import THERAPIST_KINDS


@dataclass(frozen=True)
class Failure:
    code: str
    where: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "where": self.where, "detail": self.detail}

    def describe(self) -> str:
        return f"{self.code}: {self.where}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Report:
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    booklet_id: str | None = None
    exporter: dict[str, Any] | None = None
    entries: int = 0
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, code: str, where: str, detail: str = "") -> None:
        self.failures.append(Failure(code, where, detail))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": [f.to_json() for f in self.failures],
                "warnings": self.warnings, "booklet_id": self.booklet_id,
                "exporter": self.exporter, "entries": self.entries, "files": self.files}


def _json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _ms(iso: str) -> int:
    return int(datetime.datetime.fromisoformat(iso).timestamp() * 1000 + 0.5)


def verify(data: bytes) -> Report:
    report = Report()
    try:
        members = export_zip.read(data)
    except export_zip.ZipError as exc:
        report.fail("zip-malformed", "archive", str(exc))
        return report
    files: dict[str, bytes] = {}
    for name, content in members:
        if name in files:
            report.fail("zip-malformed", name, "listed twice")
        files[name] = content
    manifest = _manifest(files, report)
    if manifest is None:
        return report
    _files(files, manifest, report)
    doc = _booklet_json(files, report)
    by_seq = {e["seq"]: e for e in doc["entries"] if isinstance(e.get("seq"), int)} if doc else {}
    statements = _statements(manifest, report)
    _envelopes(files, manifest, statements, by_seq, report)
    if doc is not None:
        _attachments(files, doc, report)
        _access_log(doc, report)
    if export_zip.write(members) != data:
        # Every member matched its hash, yet the bytes are not the canonical archive of them:
        # a header, a time stamp or the directory was changed.
        report.fail("zip-not-canonical", "archive", "the zip structure was changed")
    return report


def _manifest(files: dict[str, bytes], report: Report) -> dict[str, Any] | None:
    """The manifest and the exporter's signature over it (§11 of the protocol)."""
    raw, sig = files.get(MANIFEST), files.get(SIGNATURE)
    if raw is None:
        report.fail("manifest-missing", MANIFEST)
        return None
    try:
        m = _json(raw)
        if not (isinstance(m, dict) and m.get("format") == FORMAT):
            raise ValueError("not an export manifest")
        if m.get("version") != VERSION:
            report.fail("unsupported-version", MANIFEST, f"version {m.get('version')!r}")
            return None
        exporter = m["exporter"]
        ik = bytes.fromhex(exporter["identity_key"])
        _shape(m)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        report.fail("manifest-malformed", MANIFEST, str(exc))
        return None
    report.booklet_id = str(m["booklet_id"])
    report.exporter = {"account_id": exporter.get("account_id"),
                       "fingerprint": safety.fingerprint(ik) if len(ik) == 32 else None}
    if sig is None:
        report.fail("signature-missing", SIGNATURE)
    else:
        try:
            ed25519_verify(ik, sig, labels.EXPORT_MANIFEST, raw)
        except ProtocolError as exc:
            report.fail("bad-manifest-signature", SIGNATURE,
                        f"{exc.code}: the manifest is not what the exporter signed")
    return dict(m)


# The manifest's lists: each item's members and their JSON types.
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "envelopes": {"seq": (int,), "path": (str,), "entry_hash": (str,),
                  "content_key": (str, type(None))},
    "files": {"path": (str,), "size": (int,), "sha256": (str,)},
    "members": {"account_id": (str,), "role": (str,), "key_statement": (str,)},
}


def _shape(m: dict[str, Any]) -> None:
    """ValueError unless the manifest has the members and types every check relies on: a
    hostile archive is a named failure, never a crash of the checker."""
    if not (isinstance(m.get("booklet_id"), str) and len(bytes.fromhex(m["booklet_id"])) == 16):
        raise ValueError("booklet_id is not 32 hex digits")
    if not isinstance(m.get("joined_seq", 0), int) or not isinstance(m.get("exporter"), dict):
        raise ValueError("joined_seq or exporter")
    for key, fields in _FIELDS.items():
        items = m.get(key)
        if not isinstance(items, list):
            raise ValueError(f"{key} is not a list")
        for i in items:
            if not (isinstance(i, dict) and all(
                    isinstance(i.get(f), types) and not isinstance(i.get(f), bool)
                    for f, types in fields.items())):
                raise ValueError(f"an item of {key} lacks a member or has the wrong type")


def _files(files: dict[str, bytes], manifest: dict[str, Any], report: Report) -> None:
    listed: dict[str, dict[str, Any]] = {}
    for f in manifest["files"]:
        try:
            path, digest = str(f["path"]), str(f["sha256"])
        except (KeyError, TypeError):
            report.fail("manifest-malformed", MANIFEST, "a file without path or sha256")
            continue
        listed[path] = f
        content = files.get(path)
        if content is None:
            report.fail("file-missing", path, "listed in the manifest, not in the archive")
        elif sha256_hex(content) != digest or len(content) != f.get("size"):
            report.fail("file-hash-mismatch", path, "not the file the manifest lists")
    for path in files:
        if path not in listed and path not in (MANIFEST, SIGNATURE):
            report.fail("file-unlisted", path, "in the archive, not in the manifest")
    report.files = sum(1 for p in listed if p.startswith("files/"))


def _booklet_json(files: dict[str, bytes], report: Report) -> dict[str, Any] | None:
    raw = files.get(BOOKLET_JSON)
    if raw is None:
        return None  # file-missing already
    try:
        doc = _json(raw)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        for key in ("entries", "access_log"):
            if not (isinstance(doc.get(key), list)
                    and all(isinstance(i, dict) for i in doc[key])):
                raise ValueError(f"{key} is not a list of objects")
        for e in doc["entries"]:
            if not (isinstance(e.get("payload"), dict | None) and isinstance(e.get("files"), list)
                    and all(isinstance(f, dict) for f in e["files"])):
                raise ValueError(f"entry {e.get('seq')!r} is malformed")
        return doc
    except (UnicodeDecodeError, ValueError) as exc:
        report.fail("booklet-json-malformed", BOOKLET_JSON, str(exc))
        return None


def _statements(manifest: dict[str, Any], report: Report) -> dict[str, tuple[bytes, str]]:
    """account id -> (identity key, role), from self-signed key statements (§3.2)."""
    out: dict[str, tuple[bytes, str]] = {}
    for m in manifest["members"]:
        try:
            st = keys.KeyStatement.parse(bytes.fromhex(m["key_statement"]))
            st.verify()
            if st.account_id.hex() != m["account_id"]:
                raise ProtocolError("account-mismatch")
        except (ProtocolError, ValueError, KeyError, TypeError) as exc:
            code = exc.code if isinstance(exc, ProtocolError) else "malformed"
            report.fail("bad-key-statement", f"member {m.get('account_id')}", code)
            continue
        out[st.account_id.hex()] = (st.identity_key, str(m.get("role")))
    exporter = manifest["exporter"]
    mine = out.get(str(exporter.get("account_id")))
    if mine is None or mine[0].hex() != exporter.get("identity_key"):
        report.fail("bad-exporter-key", MANIFEST,
                    "the exporter's key is not a member's key in the manifest")
    return out


def _envelopes(files: dict[str, bytes], manifest: dict[str, Any],
               statements: dict[str, tuple[bytes, str]], by_seq: dict[Any, Any],
               report: Report) -> None:
    """Each envelope signed by its author and opening to booklet.json's text; the whole one
    hash chain (the history check of protocol §4.6, with no checkpoint)."""
    booklet = bytes.fromhex(str(manifest["booklet_id"]))
    items: list[history.Listed] = []
    seqs = []
    listed_at = {i.get("seq"): i for i in manifest["envelopes"]}
    for item in manifest["envelopes"]:
        path = str(item.get("path"))
        sealed = files.get(path)
        if sealed is None:
            continue  # file-missing already, when listed; the chain check names the gap
        where = f"entry {item.get('seq')} ({path})"
        try:
            env = envelope.parse_envelope(sealed)
        except ProtocolError as exc:
            report.fail("envelope-malformed", where, exc.code)
            continue
        h = env.header
        items.append(history.Listed(h.sequence, h.prev_hash, env.entry_hash))
        seqs.append(h.sequence)
        if h.sequence != item.get("seq") or env.entry_hash.hex() != item.get("entry_hash"):
            report.fail("envelope-mismatch", where, "not the envelope the manifest lists there")
        author = statements.get(h.author_id.hex())
        if author is None:
            report.fail("unknown-author", where, "the author is not in the manifest's members")
            continue
        try:
            ed25519_verify(author[0], env.signature, labels.ENTRY_SIGNATURE, env.signed_part)
        except ProtocolError:
            report.fail("bad-signature", where, "not signed by its author")
            continue
        if h.booklet_id != booklet:
            report.fail("wrong-booklet", where, "an envelope of another booklet")
        if h.kind in THERAPIST_KINDS and author[1] != "therapist":
            report.fail("wrong-author", where, "only the therapist writes this kind")
        # The key listed for this envelope's own sequence: one listed in the wrong place is
        # named once (envelope-mismatch), not again as a key that does not fit it.
        listed = listed_at.get(h.sequence, item)
        _content(env, author[0], listed, by_seq.get(h.sequence), where, report)
    report.entries = len(items)
    if not items:
        return
    problems, _ = history.check(since=0, last_seq=max(seqs),
                                joined_seq=int(manifest.get("joined_seq") or 0),
                                checkpoint=None, items=items)
    for p in problems:
        report.fail(p.code, f"entry {p.seq}" + (f"-{p.to}" if p.to and p.to != p.seq else ""),
                    p.describe().replace("sealed to you", "in the booklet"))
    if min(seqs) > 1 and int(manifest.get("joined_seq") or 0) < min(seqs) - 1:
        report.warnings.append(f"entries before {min(seqs)} are not in the archive")


def _content(env: envelope.Envelope, author_key: bytes, item: dict[str, Any],
             entry: dict[str, Any] | None, where: str, report: Report) -> None:
    """booklet.json's entry is the signed one: header fields, and the payload it decrypts to."""
    h = env.header
    if entry is None:
        report.fail("booklet-json-mismatch", where, "missing from booklet.json")
        return
    key = item.get("content_key")
    try:
        signed = (h.entry_id.hex(), h.author_id.hex())
        if (entry.get("entry_id"), entry.get("author_id")) != signed:
            raise ValueError("entry id or author")
        if key is None:
            if entry.get("payload") is not None:
                raise ValueError("text without a key to check it")
            return
        if entry.get("kind") != KINDS[h.kind] or _ms(str(entry.get("created_at"))) != h.created_at:
            raise ValueError("kind or date")
        opened = envelope.open_entry_with_key(
            env.raw, author_identity_key=author_key, author_id=h.author_id,
            booklet_id=h.booklet_id, entry_id=h.entry_id, content_key=bytes.fromhex(key),
            expected_hash=env.entry_hash)
        payload = plain(decode_payload(h.kind, opened.plaintext))
    except ProtocolError as exc:
        report.fail("content-key-mismatch", where, exc.code)
        return
    except (ValueError, TypeError) as exc:
        report.fail("booklet-json-mismatch", where, str(exc))
        return
    if payload != entry.get("payload"):
        report.fail("booklet-json-mismatch", where, "the text differs from the signed entry")


def _attachments(files: dict[str, bytes], doc: dict[str, Any], report: Report) -> None:
    """Each exported file is the one its signed attachment names (by SHA-256 and size)."""
    for e in doc["entries"]:
        atts = (e.get("payload") or {}).get("attachments")
        atts = atts if isinstance(atts, list) else []  # a changed payload is named elsewhere
        for f in e.get("files") or []:
            path = f.get("path")
            where = f"entry {e.get('seq')} file {f.get('attachment')}"
            if path is None:
                report.warnings.append(f"{where} is not in the archive ({f.get('missing')})")
                continue
            index = f.get("attachment")
            content = files.get(str(path))
            if not isinstance(index, int) or not 0 <= index < len(atts) or content is None:
                report.fail("attachment-mismatch", where, "names no attachment or no file")
                continue
            a = atts[index] if isinstance(atts[index], dict) else {}
            if sha256_hex(content) != a.get("sha256") or len(content) != a.get("size"):
                report.fail("attachment-mismatch", str(path), "not the file the author attached")


def _access_log(doc: dict[str, Any], report: Report) -> None:
    bad = [i.get("seq") for i in doc["access_log"] if not access_log.hash_ok(i)]
    if bad:
        report.warnings.append(f"access-log events {bad} do not match their own hash")
