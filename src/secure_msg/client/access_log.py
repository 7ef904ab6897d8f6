"""A booklet's access log for the reference client: fetch every page, name the people from
the members list, write CSV, and check each event's own hash.

The server gives account ids only; names come from the members list (former members too), so
they are the names this client already shows for the booklet. An event's hash can be
recomputed from its fields (model/audit.py); the links between the events shown cannot, since
the events of other booklets in between are not shown (docs/threat-model.md §3.8).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from secure_msg.base64url import decode as b64decode
from secure_msg.client.client import Client, MemberInfo
from secure_msg.model.access_log import Access, parse_ranges
from secure_msg.model.audit import encode_detail, event_hash

MAX_PAGES = 10_000  # a loop guard: a server answering the same cursor forever


@dataclass(frozen=True)
class Row:
    seq: int
    at: str
    who: str
    action: str
    what: str
    hash_ok: bool
    item: dict[str, Any]


async def fetch(client: Client, booklet_id: str, *, page_size: int = 200) -> list[dict[str,
                                                                                     Any]]:
    """Every item of the log, newest first."""
    items: list[dict[str, Any]] = []
    cursor: int | None = None
    for _ in range(MAX_PAGES):
        params = {"limit": str(page_size)}
        if cursor is not None:
            params["cursor"] = str(cursor)
        page = await client.api.call("GET", f"/api/booklets/{booklet_id}/access-log",
                                     params=params)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return items


async def record_export(client: Client, booklet_id: str, kind: str,
                        entries: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind}
    if entries is not None:
        body["entries"] = entries
    answer: dict[str, Any] = await client.api.call(
        "POST", f"/api/booklets/{booklet_id}/exports", body)
    return answer


def hash_ok(item: dict[str, Any]) -> bool:
    """Whether the item's hash is the hash of its own fields and prev_hash."""
    try:
        digest = event_hash(
            b64decode(item["prev_hash"]), item["seq"], item["at_ms"], item["actor_ref"],
            item["action"], item["target"], encode_detail(item["detail"]))
        return digest == b64decode(item["hash"])
    except (KeyError, TypeError, ValueError):
        return False


def _name(account_id: str | None, names: dict[str, str], actor_ref: str = "") -> str:
    if account_id is None:
        return {"anonymous": "someone outside the booklet"}.get(actor_ref, actor_ref or "?")
    return names.get(account_id, f"unknown account {account_id[:8]}")


_SIMPLE = {
    Access.ENTRY_POSTED: "posted entry {seq}",
    Access.BLOB_FETCHED: "downloaded a document of entry {seq}",
    Access.EXPORTED: "exported ({kind})",
    Access.BOOKLET_CREATED: "opened the booklet",
    Access.SHARE_CREATED: "shared a document of entry {seq} outside the booklet",
    Access.SHARE_OPENED: "opened the shared document of entry {seq}",
    Access.SHARE_REVOKED: "withdrew a share",
}


# Actions about one member: the words, and the detail key naming them.
_ABOUT_MEMBER = {
    Access.MEMBER_REMOVED: ("removed", "member"),
    Access.MEMBER_LEFT: ("left", "member"),
    Access.CONSENT_APPROVED: ("approved", "caregiver"),
    Access.CONSENT_WITHDRAWN: ("withdrew consent for", "caregiver"),
    Access.MEMBER_EXPIRED: ("access ended at its date", "member"),
}


def _what(item: dict[str, Any], names: dict[str, str]) -> str:
    d, action = item["detail"], item["action"]
    if action == Access.ENTRIES_FETCHED:
        ranges = str(d.get("ranges") or f"{d.get('from')}-{d.get('to')}")
        try:
            count = len(parse_ranges(ranges))
        except ValueError:
            count = int(d.get("count") or 0)
        return f"read {count} entries ({ranges})"
    if action == Access.MEMBER_JOINED:
        by = d.get("invited_by")
        return f"joined as {d.get('role')}" + (f", invited by {_name(by, names)}" if by else "")
    if action in _ABOUT_MEMBER:
        verb, key = _ABOUT_MEMBER[action]
        return f"{verb}: {_name(str(d.get(key)), names)}"
    if action == Access.HISTORY_GRANTED:
        grantee = _name(str(d.get("grantee")), names)
        return f"granted {d.get('entries')} earlier entries to {grantee}"
    if action in _SIMPLE:
        return _SIMPLE[action].format_map({"seq": d.get("seq"), "kind": d.get("kind")})
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


def rows(items: Iterable[dict[str, Any]], members: Sequence[MemberInfo]) -> list[Row]:
    names = {m.account_id: (m.name or m.role) + (" (former)" if m.removed else "")
             for m in members}
    return [Row(i["seq"], i["at"], _name(i["actor"], names, i["actor_ref"]), i["action"],
                _what(i, names), hash_ok(i), i) for i in items]


def to_csv(table: Sequence[Row]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(["at", "who", "action", "what", "actor_id", "chain_seq", "hash", "hash_ok"])
    for r in table:
        # A name is someone's own text: keep a spreadsheet from reading it as a formula.
        who = "'" + r.who if r.who[:1] in ("=", "+", "-", "@") else r.who
        out.writerow([r.at, who, r.action, r.what, r.item["actor"] or r.item["actor_ref"],
                      r.seq, r.item["hash"], "yes" if r.hash_ok else "NO"])
    return buf.getvalue()
