"""Entries as JSON: the one shape the API answers, written once per entry and stored.

A page is the read path's hot spot (docs/performance.md, "Reading"): building 50 dicts and running
`json.dumps` over ≈ 55 KB cost more than the database query, and even written by hand, the base64
and the ISO times of a page were a third of the event loop's time. Nothing in an entry's JSON
changes after it is posted, so its text is written here at insert and stored with the entry
(`entries.json`); a page is the stored texts joined. Every value is an integer, lowercase hex,
unpadded base64url or an ISO-8601 time, none of which JSON needs to escape.
tests/model/test_entry_json.py checks that a page parses to exactly `entry_json` of every entry.

If the shape ever changes, a migration sets `entries.json` to NULL: such rows are written from
their columns when read (storage.booklets.entry_texts_for_txn), as rows from before schema 0005
are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from secure_msg.base64url import encode as b64
from secure_msg.clock import ms_to_iso
from secure_msg.model.booklets import StoredEntry


def entry_json(e: StoredEntry) -> dict[str, Any]:
    return {
        "seq": e.seq, "entry_id": e.entry_id.hex(), "author_id": e.author_id.hex(),
        "kind": e.kind, "created_at": ms_to_iso(e.created_at_ms),
        "received_at": ms_to_iso(e.received_at_ms), "entry_hash": b64(e.entry_hash),
        "envelope": b64(e.envelope),
    }


def entry_text(e: StoredEntry) -> str:
    """`json.dumps(entry_json(e))` without the dict, compact."""
    return (
        f'{{"seq":{int(e.seq)},"entry_id":"{e.entry_id.hex()}",'
        f'"author_id":"{e.author_id.hex()}","kind":{int(e.kind)},'
        f'"created_at":"{ms_to_iso(e.created_at_ms)}",'
        f'"received_at":"{ms_to_iso(e.received_at_ms)}",'
        f'"entry_hash":"{b64(e.entry_hash)}","envelope":"{b64(e.envelope)}"}}'
    )


def page_json(texts: Sequence[str], last_seq: int) -> str:
    """`{"entries": [...], "last_seq": n}` from entry texts in page order."""
    return f'{{"entries":[{",".join(texts)}],"last_seq":{json.dumps(int(last_seq))}}}'
