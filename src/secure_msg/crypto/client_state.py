"""Sealed client state (docs/protocol.md §6.5): an account's pins, checkpoints and sealed-to
records, sealed under a key that only its identity seed derives, so the server can keep it but
not read, forge or merge it. Sans-IO; merging two states is `secure_msg.client.state_merge`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from . import labels
from .encoding import Reader, fixed, prefix, u32, u64
from .errors import ProtocolError
from .primitives import aes_gcm_decrypt, aes_gcm_encrypt, hkdf32
from .rng import system_rng

HEADER_LEN = 44
NONCE_LEN = 12
TAG_LEN = 16
MAX_PLAINTEXT = 1 << 20
MAX_CT_LEN = MAX_PLAINTEXT + TAG_LEN  # 1 048 592
# JSON integers above this are not exact in JavaScript, so neither implementation accepts them;
# it bounds the header's version too, which the HTTP API carries as a JSON number.
MAX_JSON_INT = (1 << 53) - 1
MAX_VERSION = MAX_JSON_INT
ROLES = frozenset({"therapist", "guardian", "caregiver"})

_ID = re.compile("[0-9a-f]{32}")
_HASH = re.compile("[0-9a-f]{64}")


@dataclass(frozen=True)
class StatePin:
    """What a client first saw of an account (§6.4): the key is trusted until verified in
    person; the name and roles are the server's word, kept to show a change. `key_conflict` is
    set by a merge that met two identity keys, cleared only by verifying in person.
    The client's profile.json keeps these by field name too (client/profile.py)."""

    identity_key: str  # hex, 64
    verified: bool = False
    name: str | None = None
    name_pinned: bool = False  # a name of None is pinned too: "no name" is what was listed
    roles: Mapping[str, str] = field(default_factory=dict)  # booklet id hex → role
    key_conflict: bool = False


@dataclass(frozen=True)
class StateCheckpoint:
    """The highest entry of a booklet the client accepted: its history checkpoint (§4.6).
    The client's profile.json keeps these by field name too (client/profile.py)."""

    seq: int
    entry_hash: str  # hex, 64
    joined_seq: int = 0
    accepted: int = 0  # how often this booklet's history was accepted after a restore


@dataclass(frozen=True)
class ClientState:
    """Everything §6.5 seals; keys of every mapping are lowercase hex ids."""

    pins: Mapping[str, StatePin] = field(default_factory=dict)  # by account id
    checkpoints: Mapping[str, StateCheckpoint] = field(default_factory=dict)  # by booklet id
    sealed_to: Mapping[str, frozenset[str]] = field(default_factory=dict)  # booklet → accounts


def state_key(identity_seed: bytes) -> bytes:
    """The AES-256-GCM key of the account's sealed state."""
    return hkdf32(fixed(identity_seed, 32, "identity_seed"), labels.CLIENT_STATE_KEY)


# --- JSON form -----------------------------------------------------------------------------


def state_to_json(state: ClientState) -> dict[str, Any]:
    """The JSON object §6.5 describes, every member written (`key_conflict` too)."""
    return {
        "v": 1,
        "pins": {
            account: {
                "identity_key": pin.identity_key,
                "verified": pin.verified,
                "name": pin.name,
                "name_pinned": pin.name_pinned,
                "roles": dict(pin.roles),
                "key_conflict": pin.key_conflict,
            }
            for account, pin in state.pins.items()
        },
        "checkpoints": {
            booklet: {"seq": cp.seq, "entry_hash": cp.entry_hash, "joined_seq": cp.joined_seq,
                      "accepted": cp.accepted}
            for booklet, cp in state.checkpoints.items()
        },
        "sealed_to": {booklet: sorted(ids) for booklet, ids in state.sealed_to.items()},
    }


def state_from_json(obj: object) -> ClientState:
    """Check every field of §6.5 (`bad-payload`); members it does not know are ignored."""
    top = _object(obj, "state")
    if not _is_int(top.get("v")) or top["v"] != 1:
        raise _bad("v is not 1")
    pins = {
        _id(account, "pin account"): _pin(value)
        for account, value in _object(_member(top, "pins", "state"), "pins").items()
    }
    checkpoints = {
        _id(booklet, "checkpoint booklet"): _checkpoint(value)
        for booklet, value in _object(_member(top, "checkpoints", "state"), "checkpoints").items()
    }
    sealed_to = {
        _id(booklet, "sealed_to booklet"): _sorted_ids(value)
        for booklet, value in _object(_member(top, "sealed_to", "state"), "sealed_to").items()
    }
    return ClientState(pins, checkpoints, sealed_to)


def encode_state(state: ClientState) -> bytes:
    """UTF-8 JSON, keys sorted, no spaces: the exact bytes every implementation writes.
    A state that `parse_state` would refuse is a caller's bug: ValueError."""
    obj = state_to_json(state)
    try:
        state_from_json(obj)
    except ProtocolError as exc:
        raise ValueError(f"not a valid client state: {exc.detail}") from None
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def parse_state(data: bytes) -> ClientState:
    try:
        # A BOM is refused here by json.loads; readers must not strip it either.
        obj = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError: not JSON, or an integer of 4300+ digits; RecursionError: deep nesting.
        raise _bad("not RFC 8259 JSON in UTF-8") from exc
    return state_from_json(obj)


# --- sealing -------------------------------------------------------------------------------


def seal_state(
    state: ClientState,
    *,
    account_id: bytes,
    version: int,
    key: bytes,
    nonce: bytes | None = None,
) -> bytes:
    """The sealed blob of `state` as `version` of `account_id`'s state (nonce random unless
    given, for vectors). ValueError for a bad argument or a state over 1 MiB."""
    if not 1 <= version <= MAX_VERSION:
        raise ValueError("client state version must be in 1 … 2^53 − 1")
    plaintext = encode_state(state)
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"client state is {len(plaintext)} bytes, over {MAX_PLAINTEXT}")
    nonce = system_rng(NONCE_LEN) if nonce is None else nonce
    header = b"".join(
        (
            prefix(labels.TYPE_CLIENT_STATE),
            fixed(account_id, 16, "account_id"),
            u64(version),
            fixed(nonce, NONCE_LEN, "nonce"),
            u32(len(plaintext) + TAG_LEN),
        )
    )
    return header + aes_gcm_encrypt(fixed(key, 32, "key"), nonce, plaintext, header)


def peek_header(blob: bytes) -> tuple[bytes, int]:
    """`(account_id, version)` after the checks that need no key: prefix, layout, bounds. The
    server uses it; it proves nothing about who sealed the blob."""
    account_id, version, _, _ = _layout(blob)
    return account_id, version


def open_state(blob: bytes, *, account_id: bytes, key: bytes) -> tuple[int, ClientState]:
    """`(version, state)` of the opener's own blob, with the checks in §6.5's order."""
    own_id, version, nonce, ct = _layout(blob)
    if own_id != fixed(account_id, 16, "account_id"):
        raise ProtocolError("account-mismatch", "another account's client state")
    key = fixed(key, 32, "key")
    plaintext = aes_gcm_decrypt(key, nonce, ct, blob[:HEADER_LEN], "state-decrypt-failed")
    return version, parse_state(plaintext)


def _layout(blob: bytes) -> tuple[bytes, int, bytes, bytes]:
    r = Reader(blob)
    r.prefix(labels.TYPE_CLIENT_STATE)
    account_id, version, nonce, ct_len = r.take(16), r.u64(), r.take(NONCE_LEN), r.u32()
    # Bounds before the ciphertext is read: a length of 4 GiB is malformed, not truncated.
    if not 1 <= version <= MAX_VERSION:
        raise ProtocolError("malformed", "client state version 0 or above 2^53 − 1")
    if not TAG_LEN <= ct_len <= MAX_CT_LEN:
        raise ProtocolError("malformed", "client state ct_len out of bounds")
    ct = r.take(ct_len)
    r.end()
    return account_id, version, nonce, ct


# --- field checks --------------------------------------------------------------------------
# Details name the field, never its value: names are clinical context.


def _bad(detail: str) -> ProtocolError:
    return ProtocolError("bad-payload", detail)


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON (RFC 8259); the browser's JSON.parse refuses them too."""
    raise ValueError(f"{name} is not JSON")


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} is not an object")
    return value


def _member(obj: dict[str, Any], name: str, what: str) -> Any:
    if name not in obj:
        raise _bad(f"{what} has no {name}")
    return obj[name]


def _id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _bad(f"{what} is not 32 lowercase hex digits")
    return value


def _hash(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise _bad(f"{what} is not 64 lowercase hex digits")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is an int in Python


def _int(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{what} is not an integer")
    if not minimum <= value <= MAX_JSON_INT:
        raise _bad(f"{what} is not in {minimum} … 2^53 − 1")
    return value


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(f"{what} is not true or false")
    return value


def _name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad("pin name is not a string or null")
    try:
        value.encode("utf-8")  # a lone surrogate escape (\ud800) is not text
    except UnicodeEncodeError:
        raise _bad("pin name is not valid Unicode") from None
    return value


def _pin(value: object) -> StatePin:
    obj = _object(value, "pin")
    identity_key = _hash(_member(obj, "identity_key", "pin"), "pin identity_key")
    roles: dict[str, str] = {}
    for booklet, role in _object(_member(obj, "roles", "pin"), "pin roles").items():
        if role not in ROLES:
            raise _bad("pin role is not therapist, guardian or caregiver")
        roles[_id(booklet, "pin role booklet")] = role
    pin = StatePin(
        identity_key=identity_key,
        verified=_bool(_member(obj, "verified", "pin"), "pin verified"),
        name=_name(_member(obj, "name", "pin")),
        name_pinned=_bool(_member(obj, "name_pinned", "pin"), "pin name_pinned"),
        roles=roles,
        key_conflict=_bool(obj.get("key_conflict", False), "pin key_conflict"),  # absent: false
    )
    if pin.verified and pin.key_conflict:  # verifying clears the flag; merging keeps it so
        raise _bad("pin is verified and in key conflict")
    return pin


def _checkpoint(value: object) -> StateCheckpoint:
    obj = _object(value, "checkpoint")
    entry_hash = _hash(_member(obj, "entry_hash", "checkpoint"), "checkpoint entry_hash")
    return StateCheckpoint(
        seq=_int(_member(obj, "seq", "checkpoint"), "checkpoint seq", 1),
        entry_hash=entry_hash,
        joined_seq=_int(_member(obj, "joined_seq", "checkpoint"), "checkpoint joined_seq", 0),
        accepted=_int(obj.get("accepted", 0), "checkpoint accepted", 0),  # absent: 0
    )


def _sorted_ids(value: object) -> frozenset[str]:
    if not isinstance(value, list):
        raise _bad("sealed_to value is not a list")
    ids = [_id(account, "sealed_to account") for account in value]
    if any(a >= b for a, b in pairwise(ids)):
        raise _bad("sealed_to list is not sorted without repeats")
    return frozenset(ids)
