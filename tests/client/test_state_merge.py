"""Merging two client states (docs/protocol.md §6.5 "Merging") against the shared vectors, which
the web inbox runs too, plus properties over random states."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_msg.client.state_merge import merge
from secure_msg.crypto.client_state import (
    ClientState,
    StateCheckpoint,
    StatePin,
    encode_state,
    parse_state,
    state_from_json,
    state_to_json,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads(
    (ROOT / "tests" / "vectors" / "client-state-v1.json").read_text(encoding="utf-8"))
CASES = VECTORS["merge"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_merge_vector(case: dict[str, Any]) -> None:
    """Each hand-written case gives exactly its state and its conflicts, in sorted order."""
    result = merge(state_from_json(case["local"]), state_from_json(case["stored"]))
    assert state_to_json(result.state) == case["expected"]
    assert list(result.pin_conflicts) == case["pin_conflicts"]
    assert list(result.checkpoint_conflicts) == case["checkpoint_conflicts"]


def test_merge_vectors_cover_both_conflicts_and_quiet_merges() -> None:
    """The shared cases include both kinds of conflict and merges with none."""
    assert len(CASES) >= 16
    assert any(c["pin_conflicts"] for c in CASES)
    assert any(c["checkpoint_conflicts"] for c in CASES)
    assert any(not c["pin_conflicts"] and not c["checkpoint_conflicts"] for c in CASES)


def test_the_merged_state_does_not_share_the_inputs_roles() -> None:
    """Merging builds new role maps: the inputs are left as they were."""
    local = ClientState(pins={"a1" * 16: StatePin("11" * 32, roles={"b1" * 16: "guardian"})})
    stored = ClientState(pins={"a1" * 16: StatePin("11" * 32, roles={"b2" * 16: "caregiver"})})
    before = (state_to_json(local), state_to_json(stored))
    merge(local, stored)
    assert (state_to_json(local), state_to_json(stored)) == before


# --- properties ----------------------------------------------------------------------------
# Small pools of ids, keys and hashes, so the two sides often share accounts and booklets.

ACCOUNTS = ["a1" * 16, "a2" * 16, "a3" * 16]
BOOKLETS = ["b1" * 16, "b2" * 16, "b3" * 16]
account = st.sampled_from(ACCOUNTS)
booklet = st.sampled_from(BOOKLETS)
ikey = st.sampled_from(["11" * 32, "22" * 32])
entry_hash = st.sampled_from(["cd" * 32, "ef" * 32])


@st.composite
def pins(draw: st.DrawFn) -> StatePin:
    verified = draw(st.booleans())
    return StatePin(
        draw(ikey), verified, draw(st.sampled_from([None, "Maija", "Äiti 🦔"])),
        draw(st.booleans()),
        draw(st.dictionaries(booklet, st.sampled_from(["therapist", "guardian", "caregiver"]))),
        key_conflict=not verified and draw(st.booleans()),
    )


states = st.builds(
    ClientState,
    pins=st.dictionaries(account, pins()),
    checkpoints=st.dictionaries(booklet, st.builds(
        StateCheckpoint, seq=st.integers(1, 3), entry_hash=entry_hash,
        joined_seq=st.integers(0, 2))),
    sealed_to=st.dictionaries(booklet, st.frozensets(account)),
)


@settings(max_examples=150, deadline=None)
@given(state=states)
def test_a_state_merged_with_itself_is_itself(state: ClientState) -> None:
    """merge(x, x) is x with no conflicts: a client that re-reads what it wrote changes nothing."""
    result = merge(state, state)
    assert result.state == state
    assert result.pin_conflicts == result.checkpoint_conflicts == ()


@settings(max_examples=150, deadline=None)
@given(local=states, stored=states)
def test_merging_keeps_everything_and_settles(local: ClientState, stored: ClientState) -> None:
    """The result has every account and booklet of both sides, is a valid state written the
    same whichever order the inputs listed them in, and merging it with itself is quiet."""
    result = merge(local, stored)
    merged = result.state
    assert merged.pins.keys() == local.pins.keys() | stored.pins.keys()
    assert merged.checkpoints.keys() == local.checkpoints.keys() | stored.checkpoints.keys()
    assert merged.sealed_to.keys() == local.sealed_to.keys() | stored.sealed_to.keys()
    for booklet_id, ids in merged.sealed_to.items():
        assert ids >= local.sealed_to.get(booklet_id, frozenset())
        assert ids >= stored.sealed_to.get(booklet_id, frozenset())
    assert parse_state(encode_state(merged)) == merged
    assert list(result.pin_conflicts) == sorted(result.pin_conflicts)
    assert list(result.checkpoint_conflicts) == sorted(result.checkpoint_conflicts)
    reordered = merge(_reversed(local), _reversed(stored))
    assert encode_state(reordered.state) == encode_state(merged)
    assert reordered.pin_conflicts == result.pin_conflicts
    assert merge(merged, merged).state == merged


@settings(max_examples=150, deadline=None)
@given(local=states, stored=states)
def test_a_pin_verified_on_either_side_is_never_lost_quietly(
    local: ClientState, stored: ClientState
) -> None:
    """A verified pin stays verified with its key, unless its account is reported in conflict."""
    result = merge(local, stored)
    for side in (local, stored):
        for account_id, pin in side.pins.items():
            if pin.verified and account_id not in result.pin_conflicts:
                merged = result.state.pins[account_id]
                assert (merged.identity_key, merged.verified) == (pin.identity_key, True)


def _reversed(state: ClientState) -> ClientState:
    """The same state with every mapping in the opposite insertion order."""
    return ClientState(
        pins={k: StatePin(p.identity_key, p.verified, p.name, p.name_pinned,
                          dict(reversed(p.roles.items())), p.key_conflict)
              for k, p in reversed(state.pins.items())},
        checkpoints=dict(reversed(state.checkpoints.items())),
        sealed_to=dict(reversed(state.sealed_to.items())),
    )
