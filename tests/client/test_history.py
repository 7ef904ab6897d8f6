"""The history check of docs/protocol.md §4.6 against the shared vectors, which the web inbox
runs too (tests/js/history.test.mjs)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from secure_msg.client import history
from secure_msg.crypto.client_state import StateCheckpoint

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "history-v1.json").read_text())


def _checkpoint(raw: dict[str, Any] | None) -> StateCheckpoint | None:
    if raw is None:
        return None
    return StateCheckpoint(raw["seq"], raw["entry_hash"], raw["joined_seq"])


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_history_vector(case: dict[str, Any]) -> None:
    """Each hand-written case gives exactly its problems and its next checkpoint."""
    given = case["input"]
    items = [history.Listed(i["seq"], None if i["prev_hash"] is None
                            else bytes.fromhex(i["prev_hash"]), bytes.fromhex(i["entry_hash"]))
             for i in given["items"]]
    problems, checkpoint = history.check(
        since=given["since"], last_seq=given["last_seq"], joined_seq=given["joined_seq"],
        checkpoint=_checkpoint(given["checkpoint"]), items=items)
    assert [p.to_json() for p in problems] == case["expect"]["problems"]
    assert checkpoint == _checkpoint(case["expect"]["checkpoint"])


def test_vectors_cover_every_problem_code() -> None:
    """The shared cases exercise every code and clean reads, so both clients are tested."""
    codes = {p["code"] for c in VECTORS["cases"] for p in c["expect"]["problems"]}
    assert codes == {"history-rewritten", "chain-broken", "membership-restarted",
                     "entries-missing"}
    assert any(not c["expect"]["problems"] for c in VECTORS["cases"])


def test_vectors_file_is_what_the_generator_makes() -> None:
    """tools/gen_history_vectors.py regenerates the committed file byte for byte."""
    gen = runpy.run_path(str(ROOT / "tools" / "gen_history_vectors.py"))
    assert gen["build"]() == (ROOT / "tests" / "vectors" / "history-v1.json").read_text()


def test_a_huge_last_seq_is_one_run_not_a_loop() -> None:
    """A server's absurd last_seq is reported as one missing run, without walking the range."""
    problems, _ = history.check(since=0, last_seq=10**18, joined_seq=0, checkpoint=None,
                                items=[history.Listed(1, bytes(32), b"h" * 32)])
    assert problems == [history.Problem("entries-missing", 2, 10**18)]


def test_a_checkpoint_in_uppercase_hex_is_the_same_hash_kept_lowercase() -> None:
    """A hand-edited profile's uppercase hash still matches its entry, and the checkpoint kept
    after the read is lowercase, as the client writes hashes."""
    h1 = b"\xab" * 32
    saved = StateCheckpoint(1, h1.hex().upper(), 0, accepted=2)
    problems, after = history.check(since=1, last_seq=1, joined_seq=0, checkpoint=saved,
                                    items=[history.Listed(1, bytes(32), h1)])
    assert problems == []
    assert after == StateCheckpoint(1, h1.hex(), 0, accepted=2)
