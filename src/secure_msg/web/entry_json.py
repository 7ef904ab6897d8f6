"""Entries as JSON: the one shape the API answers, and a fast writer for whole pages.

A page is the read path's hot spot (docs/performance.md, "Reading"): building 50 dicts and
running `json.dumps` over ≈ 55 KB cost more than the database query. Every value in an entry is
an integer, lowercase hex, unpadded base64url or an ISO-8601 time, none of which JSON needs to
escape, so a page is written straight into one string. tests/web/test_entry_json.py checks that
it parses to exactly `entry_json` of every entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from secure_msg.clock import ms_to_iso
from secure_msg.domain.booklets import StoredEntry
from secure_msg.web.json_io import b64


def entry_json(e: StoredEntry) -> dict[str, Any]:
    return {
        "seq": e.seq, "entry_id": e.entry_id.hex(), "author_id": e.author_id.hex(),
        "kind": e.kind, "created_at": ms_to_iso(e.created_at_ms),
        "received_at": ms_to_iso(e.received_at_ms), "entry_hash": b64(e.entry_hash),
        "envelope": b64(e.envelope),
    }


def _entry_text(e: StoredEntry) -> str:
    return (
        f'{{"seq":{int(e.seq)},"entry_id":"{e.entry_id.hex()}",'
        f'"author_id":"{e.author_id.hex()}","kind":{int(e.kind)},'
        f'"created_at":"{ms_to_iso(e.created_at_ms)}",'
        f'"received_at":"{ms_to_iso(e.received_at_ms)}",'
        f'"entry_hash":"{b64(e.entry_hash)}","envelope":"{b64(e.envelope)}"}}'
    )


def entries_page_json(entries: Sequence[StoredEntry], last_seq: int) -> str:
    """`json.dumps({"entries": [entry_json(e) …], "last_seq": last_seq})`, without the dicts."""
    body = ",".join(_entry_text(e) for e in entries)
    return f'{{"entries":[{body}],"last_seq":{json.dumps(int(last_seq))}}}'
