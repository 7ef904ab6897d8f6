"""The sealed client state of docs/protocol.md §6.5 against tests/vectors/client-state-v1.json,
which the web inbox runs too, plus round trips and the writer's own refusals."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_msg.crypto import labels
from secure_msg.crypto.client_state import (
    MAX_PLAINTEXT,
    ClientState,
    StateCheckpoint,
    StatePin,
    encode_state,
    open_state,
    parse_state,
    peek_header,
    seal_state,
    state_from_json,
    state_key,
    state_to_json,
)
from secure_msg.crypto.errors import CODES, ProtocolError

ROOT = Path(__file__).resolve().parents[2]
VECTORS_PATH = ROOT / "tests" / "vectors" / "client-state-v1.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
h = bytes.fromhex
ACCOUNT = b"\x5a" * 16
KEY = state_key(b"\x01" * 32)


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


def test_vectors_file_is_what_the_generator_makes() -> None:
    """tools/gen_client_state_vectors.py regenerates the committed file byte for byte."""
    gen = runpy.run_path(str(ROOT / "tools" / "gen_client_state_vectors.py"))
    assert gen["build"]() == VECTORS_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", VECTORS["seal"], ids=_ids(VECTORS["seal"]))
def test_seal_vector(case: dict[str, Any]) -> None:
    """The key, the plaintext bytes and the blob are exactly the vector's, and it opens back."""
    key = state_key(h(case["identity_seed"]))
    assert key.hex() == case["state_key"]
    state = state_from_json(case["state"])
    assert encode_state(state).hex() == case["plaintext"]
    blob = seal_state(state, account_id=h(case["account_id"]), version=case["version"],
                      key=key, nonce=h(case["nonce"]))
    assert blob.hex() == case["blob"]
    assert peek_header(blob) == (h(case["account_id"]), case["version"])
    assert open_state(blob, account_id=h(case["account_id"]), key=key) == (case["version"], state)


@pytest.mark.parametrize("case", VECTORS["open"], ids=_ids(VECTORS["open"]))
def test_open_vector(case: dict[str, Any]) -> None:
    """A plaintext written with other spacing, order, escapes or extra members reads the same."""
    version, state = open_state(h(case["blob"]), account_id=h(case["account_id"]),
                                key=h(case["state_key"]))
    assert version == case["version"]
    assert state_to_json(state) == case["state"]


@pytest.mark.parametrize("case", VECTORS["open_negative"], ids=_ids(VECTORS["open_negative"]))
def test_open_negative_vector(case: dict[str, Any]) -> None:
    """Every damaged or foreign blob fails to open with its code; the header check agrees."""
    blob = h(case["blob"])
    with pytest.raises(ProtocolError) as err:
        open_state(blob, account_id=h(case["account_id"]), key=h(case["state_key"]))
    assert err.value.code == case["code"]
    if case["peek"] is None:
        assert peek_header(blob)[0] == blob[4:20]
    else:
        with pytest.raises(ProtocolError) as peek_err:
            peek_header(blob)
        assert peek_err.value.code == case["peek"]
    if "plaintext" in case:  # the same refusal without the envelope
        with pytest.raises(ProtocolError, match="bad-payload"):
            parse_state(h(case["plaintext"]))


def test_negative_vectors_cover_every_code_of_opening() -> None:
    """The shared negatives exercise every code §6.5's opening can give."""
    assert {c["code"] for c in VECTORS["open_negative"]} == {
        "truncated", "trailing-data", "unsupported-version", "unsupported-suite", "wrong-type",
        "malformed", "account-mismatch", "state-decrypt-failed", "bad-payload"}
    assert "state-decrypt-failed" in CODES


def test_the_label_and_type_are_the_specs() -> None:
    """The key label and type byte are the ones docs/protocol.md §2 lists."""
    assert labels.CLIENT_STATE_KEY == b"secure-msg/v1/client-state-key"
    assert labels.TYPE_CLIENT_STATE == 0x40


# --- the writer refuses what a reader would ------------------------------------------------

PIN = StatePin("11" * 32, name="Maija", roles={"b1" * 16: "guardian"})
CP = StateCheckpoint(3, "cd" * 32)

BAD_STATES = [
    ("uppercase account id", ClientState(pins={"A1" * 16: PIN})),
    ("short identity key", ClientState(pins={"a1" * 16: StatePin("11" * 31)})),
    ("role admin", ClientState(pins={"a1" * 16: StatePin("11" * 32, roles={"b1" * 16: "admin"})})),
    ("verified in conflict", ClientState(pins={"a1" * 16: StatePin("11" * 32, verified=True,
                                                                  key_conflict=True)})),
    ("lone surrogate", ClientState(pins={"a1" * 16: StatePin("11" * 32, name="\ud800")})),
    ("seq 0", ClientState(checkpoints={"b1" * 16: StateCheckpoint(0, "cd" * 32)})),
    ("seq 2^53", ClientState(checkpoints={"b1" * 16: StateCheckpoint(2**53, "cd" * 32)})),
    ("joined_seq -1", ClientState(checkpoints={"b1" * 16: StateCheckpoint(1, "cd" * 32, -1)})),
    ("short hash", ClientState(checkpoints={"b1" * 16: StateCheckpoint(1, "cd" * 31)})),
    ("bad sealed_to id", ClientState(sealed_to={"b1" * 16: frozenset({"a1"})})),
]


@pytest.mark.parametrize(("what", "state"), BAD_STATES, ids=[w for w, _ in BAD_STATES])
def test_a_state_that_would_not_open_is_not_sealed(what: str, state: ClientState) -> None:
    """encode_state and seal_state refuse an invalid state with ValueError, naming no value."""
    with pytest.raises(ValueError, match="not a valid client state") as err:
        seal_state(state, account_id=ACCOUNT, version=1, key=KEY)
    assert "Maija" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": 0}, "version"),
        ({"version": 2**53}, "version"),
        ({"account_id": b"\x5a" * 15}, "account_id"),
        ({"key": b"k" * 31}, "key"),
        ({"nonce": b"n" * 11}, "nonce"),
    ],
)
def test_seal_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    """A version outside 1 … 2^53 - 1 or a field of the wrong length is a ValueError."""
    args: dict[str, Any] = {"account_id": ACCOUNT, "version": 1, "key": KEY, **kwargs}
    with pytest.raises(ValueError, match=message):
        seal_state(ClientState(), **args)


def _state_of_size(n: int) -> ClientState:
    """A state whose plaintext is exactly n bytes (a name padded to fit)."""
    base = len(encode_state(ClientState(pins={"a1" * 16: StatePin("11" * 32, name="")})))
    return ClientState(pins={"a1" * 16: StatePin("11" * 32, name="x" * (n - base))})


def test_a_state_of_one_mebibyte_seals_and_one_byte_more_does_not() -> None:
    """The bound of §6.5: 1 048 576 plaintext bytes open; one more is refused before sealing."""
    largest = _state_of_size(MAX_PLAINTEXT)
    blob = seal_state(largest, account_id=ACCOUNT, version=1, key=KEY)
    assert len(blob) == 44 + MAX_PLAINTEXT + 16
    assert open_state(blob, account_id=ACCOUNT, key=KEY) == (1, largest)
    with pytest.raises(ValueError, match="over 1048576"):
        seal_state(_state_of_size(MAX_PLAINTEXT + 1), account_id=ACCOUNT, version=1, key=KEY)


def test_seal_draws_a_fresh_nonce_each_time() -> None:
    """Without a nonce, two seals of one state differ and both open."""
    one = seal_state(ClientState(), account_id=ACCOUNT, version=2, key=KEY)
    two = seal_state(ClientState(), account_id=ACCOUNT, version=2, key=KEY)
    assert one[28:40] != two[28:40]
    assert open_state(one, account_id=ACCOUNT, key=KEY) == open_state(
        two, account_id=ACCOUNT, key=KEY)


def test_a_deeply_nested_or_huge_payload_is_bad_payload() -> None:
    """Hostile JSON (deep nesting, a 5000-digit integer) is a typed refusal, not a crash."""
    for text in (b"[" * 100_000 + b"]" * 100_000, b'{"v":1' + b"1" * 5000 + b"}"):
        with pytest.raises(ProtocolError, match="bad-payload"):
            parse_state(text)


# --- round trips ---------------------------------------------------------------------------

hex_id = st.binary(min_size=16, max_size=16).map(bytes.hex)
hex_hash = st.binary(min_size=32, max_size=32).map(bytes.hex)
roles = st.dictionaries(hex_id, st.sampled_from(["therapist", "guardian", "caregiver"]),
                        max_size=3)
names = st.none() | st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@st.composite
def pins(draw: st.DrawFn) -> StatePin:
    verified = draw(st.booleans())
    return StatePin(draw(hex_hash), verified, draw(names), draw(st.booleans()), draw(roles),
                    key_conflict=not verified and draw(st.booleans()))


json_int = st.integers(0, 2**53 - 1)
states = st.builds(
    ClientState,
    pins=st.dictionaries(hex_id, pins(), max_size=4),
    checkpoints=st.dictionaries(hex_id, st.builds(
        StateCheckpoint, seq=json_int.filter(bool), entry_hash=hex_hash, joined_seq=json_int),
        max_size=3),
    sealed_to=st.dictionaries(hex_id, st.frozensets(hex_id, max_size=4), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(state=states, version=st.integers(1, 2**53 - 1))
def test_any_valid_state_round_trips(state: ClientState, version: int) -> None:
    """Seal then open gives the same version and state; its plaintext is canonical JSON."""
    plaintext = encode_state(state)
    assert parse_state(plaintext) == state
    assert plaintext == json.dumps(json.loads(plaintext), sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode()
    blob = seal_state(state, account_id=ACCOUNT, version=version, key=KEY)
    assert peek_header(blob) == (ACCOUNT, version)
    assert open_state(blob, account_id=ACCOUNT, key=KEY) == (version, state)
