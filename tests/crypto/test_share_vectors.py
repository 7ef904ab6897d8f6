"""tests/vectors/share-v1.json against the Python implementation (docs/protocol.md §4.8)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secure_msg.crypto import share
from secure_msg.crypto.errors import ProtocolError

ROOT = Path(__file__).resolve().parents[2]
V = json.loads((ROOT / "tests" / "vectors" / "share-v1.json").read_text(encoding="utf-8"))
h = bytes.fromhex


def _rng(data: bytes) -> share.Rng:
    buf = bytearray(data)

    def rng(n: int) -> bytes:
        out = bytes(buf[:n])
        del buf[:n]
        assert len(out) == n
        return out

    return rng


@pytest.mark.parametrize("case", V["shares"], ids=lambda c: c["record"]["name"])
def test_share(case: dict[str, Any]) -> None:
    sid, secret = h(case["share_id"]), h(case["link_secret"])
    keys = share.derive(sid, secret, case["code"])
    assert (keys.key.hex(), keys.token.hex(), keys.verifier.hex()) == (
        case["key"], case["token"], case["verifier"])
    assert share.token_matches(keys.token, h(case["verifier"]))
    assert not share.token_matches(keys.key, h(case["verifier"]))
    shared = share.SharedFile.from_json_bytes(h(case["plaintext"]))
    assert shared.to_json_bytes() == h(case["plaintext"])  # the writer's exact bytes
    assert share.seal(keys, sid, shared, h(case["nonce"])) == h(case["sealed"])
    opened = share.open_sealed(keys, sid, h(case["sealed"]))
    assert opened == shared
    assert opened.attachment.to_json()["name"] == case["record"]["name"]
    assert share.parse_sealed(h(case["sealed"])) == sid
    assert share.parse_fragment(case["fragment"]) == (sid, secret)
    assert share.parse_fragment("#" + case["fragment"]) == (sid, secret)
    assert share.link("https://x.test/", sid, secret) == f"https://x.test/share/#{case['fragment']}"


@pytest.mark.parametrize("case", V["negative"], ids=lambda c: c["name"])
def test_negative(case: dict[str, Any]) -> None:
    base = V["shares"][0]
    sid = h(base["share_id"])
    def run() -> None:
        keys = share.derive(sid, h(base["link_secret"]), case["code"])
        share.open_sealed(keys, sid, h(case["sealed"]))

    with pytest.raises(ProtocolError) as err:
        run()
    assert err.value.code == case["error"]


@pytest.mark.parametrize("case", V["codes_typed"], ids=lambda c: repr(c["typed"]))
def test_codes_typed(case: dict[str, str]) -> None:
    assert share.check_code(case["typed"]) == case["code"]


@pytest.mark.parametrize("fragment", V["fragments_bad"])
def test_fragments_bad(fragment: str) -> None:
    with pytest.raises(ProtocolError) as err:
        share.parse_fragment(fragment)
    assert err.value.code == "share-link-malformed"


@pytest.mark.parametrize("case", V["code_draws"], ids=lambda c: c["code"])
def test_code_draws(case: dict[str, str]) -> None:
    assert share.new_code(_rng(h(case["bytes"]))) == case["code"]


def test_create_round_trip() -> None:
    shared = share.SharedFile.from_json_bytes(h(V["shares"][0]["plaintext"]))
    new = share.create(shared)
    keys = share.derive(new.share_id, new.link_secret, new.code)
    assert share.open_sealed(keys, new.share_id, new.sealed) == shared
    assert keys.verifier == new.keys.verifier


def test_generator_reproduces_the_file() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_share_vectors.py"),
                           "--check"], check=False)
    assert done.returncode == 0
