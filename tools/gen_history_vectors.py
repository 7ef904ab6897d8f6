"""Generate tests/vectors/history-v1.json: cases of the clients' history check (docs/protocol.md
§4.6) that the Python client and the web inbox both run.

Every expected result below is written by hand from the spec, not computed by either
implementation; the hashes are labelled SHA-256 of a name, since the check only compares them.
Running the script twice gives the same bytes (tests/client/test_history.py checks it).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "history-v1.json"
ZERO = "00" * 32


def H(name: str | int) -> str:
    return hashlib.sha256(f"secure-msg/v1/vectors/history/{name}".encode()).hexdigest()


def prev_of(seq: int) -> str:
    return ZERO if seq == 1 else H(seq - 1)


def linked(*seqs: int) -> list[dict[str, Any]]:
    """Entries of an honest chain: each one's prev_hash is its predecessor's hash."""
    return [{"seq": s, "prev_hash": prev_of(s), "entry_hash": H(s)} for s in seqs]


def item(seq: int, prev_hash: str | None, entry_hash: str) -> dict[str, Any]:
    return {"seq": seq, "prev_hash": prev_hash, "entry_hash": entry_hash}


def cp(seq: int, entry_hash: str, joined_seq: int = 0) -> dict[str, Any]:
    return {"seq": seq, "entry_hash": entry_hash, "joined_seq": joined_seq}


def case(name: str, *, since: int = 0, last_seq: int, joined_seq: int = 0,
         checkpoint: dict[str, Any] | None = None, items: list[dict[str, Any]],
         problems: list[dict[str, Any]], new_checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": name,
        "input": {"since": since, "last_seq": last_seq, "joined_seq": joined_seq,
                  "checkpoint": checkpoint, "items": items},
        "expect": {"problems": problems, "checkpoint": new_checkpoint},
    }


def cases() -> list[dict[str, Any]]:
    return [
        case("empty booklet", last_seq=0, items=[], problems=[], new_checkpoint=None),
        case("whole history, honest", last_seq=5, items=linked(1, 2, 3, 4, 5),
             problems=[], new_checkpoint=cp(5, H(5))),
        case("next page links to the checkpoint", since=5, last_seq=7, checkpoint=cp(5, H(5)),
             items=linked(6, 7), problems=[], new_checkpoint=cp(7, H(7))),
        case("nothing new", since=7, last_seq=7, checkpoint=cp(7, H(7)), items=[],
             problems=[], new_checkpoint=cp(7, H(7))),
        case("next entry does not follow the checkpoint", since=5, last_seq=6,
             checkpoint=cp(5, H(5)), items=[item(6, H("5-other"), H(6))],
             problems=[{"code": "chain-broken", "seq": 6}], new_checkpoint=cp(5, H(5))),
        case("first entry with a non-zero prev_hash", last_seq=2,
             items=[item(1, H(0), H(1)), *linked(2)],
             problems=[{"code": "chain-broken", "seq": 1}], new_checkpoint=None),
        case("two entries withheld in the middle", last_seq=6, items=linked(1, 2, 5, 6),
             problems=[{"code": "entries-missing", "from": 3, "to": 4}], new_checkpoint=None),
        case("newest entries withheld", last_seq=6, items=linked(1, 2, 3, 4),
             problems=[{"code": "entries-missing", "from": 5, "to": 6}], new_checkpoint=None),
        case("two separate runs withheld", last_seq=9, items=linked(1, 3, 4, 8),
             problems=[{"code": "entries-missing", "from": 2, "to": 2},
                       {"code": "entries-missing", "from": 5, "to": 7},
                       {"code": "entries-missing", "from": 9, "to": 9}],
             new_checkpoint=None),
        case("a gap before joining is not missing", last_seq=5, joined_seq=3,
             items=linked(1, 4, 5), problems=[], new_checkpoint=cp(5, H(5), 3)),
        case("granted entries before joining must still link", last_seq=4, joined_seq=3,
             items=[*linked(1), item(2, H("1-other"), H(2)), *linked(4)],
             problems=[{"code": "chain-broken", "seq": 2}], new_checkpoint=None),
        case("entries after joining withheld", last_seq=7, joined_seq=3, items=linked(4, 7),
             problems=[{"code": "entries-missing", "from": 5, "to": 6}], new_checkpoint=None),
        case("a read from the middle only requires what comes after it", since=4, last_seq=8,
             items=linked(5, 6, 8), problems=[{"code": "entries-missing", "from": 7, "to": 7}],
             new_checkpoint=None),
        case("checkpoint entry served with another hash", last_seq=4, checkpoint=cp(3, H(3)),
             items=[*linked(1, 2), item(3, H(2), H("3-other")), item(4, H("3-other"), H(4))],
             problems=[{"code": "history-rewritten", "seq": 3}], new_checkpoint=cp(3, H(3))),
        case("rewritten and broken at the same sequence", last_seq=3, checkpoint=cp(3, H(3)),
             items=[*linked(1, 2), item(3, H("2-other"), H("3-other"))],
             problems=[{"code": "history-rewritten", "seq": 3},
                       {"code": "chain-broken", "seq": 3}],
             new_checkpoint=cp(3, H(3))),
        case("the booklet went back below the checkpoint", since=5, last_seq=4,
             checkpoint=cp(5, H(5)), items=[],
             problems=[{"code": "history-rewritten", "seq": 5}], new_checkpoint=cp(5, H(5))),
        case("one sequence listed twice", last_seq=3,
             items=[*linked(1, 2), item(2, H(1), H("2-other")), item(3, H(2), H(3))],
             problems=[{"code": "chain-broken", "seq": 2}], new_checkpoint=None),
        case("an envelope that does not parse", last_seq=4,
             items=[*linked(1, 2), item(3, None, H("unparsable")), *linked(4)],
             problems=[{"code": "chain-broken", "seq": 4}], new_checkpoint=None),
        case("a read that starts past the checkpoint does not move it", since=5, last_seq=7,
             checkpoint=cp(3, H(3)), items=linked(6, 7), problems=[],
             new_checkpoint=cp(3, H(3))),
        case("a full re-read confirms the checkpoint and moves it", last_seq=6,
             checkpoint=cp(3, H(3)), items=linked(1, 2, 3, 4, 5, 6), problems=[],
             new_checkpoint=cp(6, H(6))),
        case("the checkpoint listed twice, one copy another entry", last_seq=4,
             checkpoint=cp(3, H(3)),
             items=[*linked(1, 2, 3), item(3, H(2), H("3-other")), *linked(4)],
             problems=[{"code": "history-rewritten", "seq": 3},
                       {"code": "chain-broken", "seq": 3}],
             new_checkpoint=cp(3, H(3))),
        case("a later joined_seq hiding an entry already seen is reported once", last_seq=6,
             joined_seq=4, checkpoint=cp(6, H(6)), items=linked(1, 2, 3, 5, 6),
             problems=[{"code": "membership-restarted", "seq": 4}],
             new_checkpoint=cp(6, H(6), 4)),
        case("the same listing after that report is quiet", last_seq=6, joined_seq=4,
             checkpoint=cp(6, H(6), 4), items=linked(1, 2, 3, 5, 6), problems=[],
             new_checkpoint=cp(6, H(6), 4)),
        case("re-invited after the checkpoint: the gap is explained and the checkpoint moves",
             since=5, last_seq=9, joined_seq=7, checkpoint=cp(5, H(5), 1), items=linked(8, 9),
             problems=[{"code": "membership-restarted", "seq": 7}],
             new_checkpoint=cp(9, H(9), 7)),
        case("a restart does not excuse a broken link", since=5, last_seq=9, joined_seq=7,
             checkpoint=cp(5, H(5), 1), items=[*linked(8), item(9, H("8-other"), H(9))],
             problems=[{"code": "membership-restarted", "seq": 7},
                       {"code": "chain-broken", "seq": 9}],
             new_checkpoint=cp(5, H(5), 1)),
        case("a gap after the checkpoint that nothing explains keeps it", since=0, last_seq=6,
             joined_seq=4, checkpoint=cp(3, H(3), 4), items=linked(1, 2, 3, 6),
             problems=[{"code": "entries-missing", "from": 5, "to": 5}],
             new_checkpoint=cp(3, H(3), 4)),
        case("with no checkpoint, a clean read from the middle sets none", since=4, last_seq=6,
             items=linked(5, 6), problems=[], new_checkpoint=None),
        case("granted entries only, then what came after joining", since=1, last_seq=5,
             joined_seq=3, checkpoint=cp(1, H(1), 3), items=linked(4, 5), problems=[],
             new_checkpoint=cp(5, H(5), 3)),
    ]


def build() -> str:
    doc = {
        "description": "History check of docs/protocol.md §4.6: input of one read, the problems "
                       "it must report and the checkpoint after it. Hashes are hex.",
        "cases": cases(),
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = build()
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text() == text else 1)
    OUT.write_text(text)
