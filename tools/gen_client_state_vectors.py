"""Generate tests/vectors/client-state-v1.json: the sealed client state of docs/protocol.md §6.5,
which the Python client and the web inbox both run.

Blobs are laid out here from the spec with the primitives (not with `seal_state`), so the tests
check the implementation against this text; seeds and nonces come from fixed seeds. Every expected
error code and every merge result is written by hand from §6.5, not computed. Running the script
twice gives the same bytes (tests/crypto/test_client_state.py checks it).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secure_msg.crypto import labels
from secure_msg.crypto.client_state import encode_state, state_from_json, state_key
from secure_msg.crypto.encoding import prefix, u32, u64
from secure_msg.crypto.primitives import aes_gcm_encrypt
from secure_msg.crypto.rng import SeededRng

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "client-state-v1.json"
SEED = "secure-msg/v1/vectors/client-state/"

# Readable ids for the merge cases: accounts a1…, booklets b1…, identity keys 11… and 22….
A1, A2, A3, A4 = ("a1" * 16, "a2" * 16, "a3" * 16, "a4" * 16)
B1, B2, B3 = ("b1" * 16, "b2" * 16, "b3" * 16)
K1, K2 = ("11" * 32, "22" * 32)


def H(name: str) -> str:
    return hashlib.sha256(f"{SEED}hash/{name}".encode()).hexdigest()


def drawn(what: str, n: int) -> bytes:
    return SeededRng(f"{SEED}{what}".encode())(n)


def seal_raw(plaintext: bytes, account_id: bytes, version: int, key: bytes, nonce: bytes) -> bytes:
    """§6.5's layout, written out: header (AAD) || AES-256-GCM(state_key, nonce, plaintext)."""
    header = prefix(labels.TYPE_CLIENT_STATE) + account_id + u64(version) + nonce
    header += u32(len(plaintext) + 16)
    return header + aes_gcm_encrypt(key, nonce, plaintext, header)


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


# --- state objects -------------------------------------------------------------------------


def pin(key: str, *, verified: bool = False, name: str | None = None, name_pinned: bool = True,
        roles: dict[str, str] | None = None, key_conflict: bool | None = False) -> dict[str, Any]:
    """A pin as writers write it; key_conflict=None leaves the member out (readers: false)."""
    out: dict[str, Any] = {"identity_key": key, "verified": verified, "name": name,
                           "name_pinned": name_pinned, "roles": roles or {}}
    if key_conflict is not None:
        out["key_conflict"] = key_conflict
    return out


def cp(seq: int, entry_hash: str, joined_seq: int = 0, accepted: int | None = 0
       ) -> dict[str, Any]:
    """A checkpoint as writers write it; accepted=None leaves the member out (readers: 0)."""
    out: dict[str, Any] = {"seq": seq, "entry_hash": entry_hash, "joined_seq": joined_seq}
    if accepted is not None:
        out["accepted"] = accepted
    return out


def state(pins: dict[str, Any] | None = None, checkpoints: dict[str, Any] | None = None,
          sealed_to: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"v": 1, "pins": pins or {}, "checkpoints": checkpoints or {},
            "sealed_to": sealed_to or {}}


# --- seal and open -------------------------------------------------------------------------


class Account:
    def __init__(self, name: str, account_id: bytes) -> None:
        self.account_id = account_id
        self.identity_seed = drawn(f"identity-seed/{name}", 32)
        self.key = state_key(self.identity_seed)


FAMILY = Account("family", bytes.fromhex("5a" * 16))
OTHER = Account("other", bytes.fromhex("5b" * 16))


def family_state() -> dict[str, Any]:
    return state(
        pins={
            A1: pin(K1, verified=True, name="Tiina Terapeutti",
                    roles={B1: "therapist", B2: "therapist"}),
            A2: pin(K2, name="Äiti Määttä", roles={B1: "guardian"}),
            A3: pin("33" * 32, name="Björn Ödegård", roles={B1: "guardian", B3: "guardian"}),
            A4: pin("44" * 32, name="Åsa 🦔 A\u0308ino", roles={B2: "caregiver"}),
        },
        checkpoints={B1: cp(12, H("b1-12")), B2: cp(4, H("b2-4"), 2), B3: cp(1, H("b3-1"), 7)},
        sealed_to={B1: [A1, A2, A3], B2: [A1, A4], B3: []},
    )


def escaping_state() -> dict[str, Any]:
    return state(
        pins={
            A1: pin(K1, name='"Maija" \\ Mäkelä\nrivi\ttab\u0001\u007f\u2028 end',
                    roles={B1: "guardian"}),
            A2: pin(K2, name=None, name_pinned=True, key_conflict=True),
            A3: pin("33" * 32, name=None, name_pinned=False, roles={B1: "caregiver"}),
        },
        checkpoints={B1: cp(9_007_199_254_740_991, H("b1-max"), 9_007_199_254_740_990)},
    )


SEALS: list[tuple[str, Account, int, dict[str, Any]]] = [
    ("an empty state", OTHER, 1, state()),
    ("a family: non-ASCII names, several booklets", FAMILY, 7, family_state()),
    ("names that JSON escapes, a key conflict, the largest integers and version",
     FAMILY, 2**53 - 1, escaping_state()),
]


def seal_vectors() -> list[dict[str, Any]]:
    out = []
    for name, acct, version, obj in SEALS:
        plaintext = encode_state(state_from_json(obj))
        nonce = drawn(f"nonce/{name}", 12)
        out.append({
            "name": name,
            "identity_seed": acct.identity_seed.hex(),
            "account_id": acct.account_id.hex(),
            "state_key": acct.key.hex(),
            "version": version,
            "nonce": nonce.hex(),
            "state": obj,
            "plaintext": plaintext.hex(),
            "blob": seal_raw(plaintext, acct.account_id, version, acct.key, nonce).hex(),
        })
    return out


def fill(template: str) -> str:
    """A hand-written plaintext with the ids put in."""
    for token, value in (("$A1", A1), ("$A2", A2), ("$B1", B1), ("$K1", K1), ("$H", H("b1-3"))):
        template = template.replace(token, value)
    return template


ODD_PLAINTEXTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "spacing, member order and unknown members are ignored; no key_conflict is false",
        fill('\n { "sealed_to" : { "$B1" : [ "$A1" , "$A2" ] } ,\n\t"future": [1, {"x": null}],\n'
             ' "checkpoints": {"$B1": {"joined_seq": 0, "note": "x", "entry_hash": "$H",'
             ' "seq": 3}},'
             '\n "pins": {"$A1": {"roles": {}, "name": "Maija", "name_pinned": true,'
             ' "verified": false, "identity_key": "$K1", "extra": true}}, "v": 1 }\n'),
        state(pins={A1: pin(K1, name="Maija")}, checkpoints={B1: cp(3, H("b1-3"))},
              sealed_to={B1: [A1, A2]}),
    ),
    (
        "escaped characters read as the characters",
        fill('{"v":1,"pins":{"$A1":{"identity_key":"$K1","verified":false,'
             '"name":"\\u00e4iti \\ud83e\\udd94 \\/","name_pinned":true,"roles":{}}},'
             '"checkpoints":{},"sealed_to":{}}'),
        state(pins={A1: pin(K1, name="äiti 🦔 /")}),
    ),
]


def open_vectors() -> list[dict[str, Any]]:
    out = []
    for name, text, expected in ODD_PLAINTEXTS:
        plaintext = text.encode("utf-8")
        blob = seal_raw(plaintext, FAMILY.account_id, 3, FAMILY.key, drawn(f"nonce/{name}", 12))
        out.append({"name": name, "account_id": FAMILY.account_id.hex(),
                    "state_key": FAMILY.key.hex(), "plaintext": plaintext.hex(),
                    "blob": blob.hex(), "version": 3, "state": expected})
    return out


def _valid() -> dict[str, Any]:
    return state(pins={A1: pin(K1, name="Maija", roles={B1: "guardian"})},
                 checkpoints={B1: cp(3, H("b1-3"))}, sealed_to={B1: [A1, A2]})


def _edit(change: Callable[[dict[str, Any]], Any]) -> bytes:
    obj = _valid()
    change(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


VALID_TEXT = _compact(_valid())

BAD_PAYLOADS: list[tuple[str, bytes]] = [
    ("not JSON", b"pins"),
    ("empty plaintext", b""),
    ("not UTF-8", VALID_TEXT[:-1] + b',"x":"\xff"}'),
    ("a UTF-8 byte order mark", b"\xef\xbb\xbf" + VALID_TEXT),
    ("NaN", VALID_TEXT[:-1] + b',"x":NaN}'),
    ("a JSON array", b"[]"),
    ("v 2", _edit(lambda o: o.update(v=2))),
    ("v true", _edit(lambda o: o.update(v=True))),
    ("v a string", _edit(lambda o: o.update(v="1"))),
    ("v missing", _edit(lambda o: o.pop("v"))),
    ("pins missing", _edit(lambda o: o.pop("pins"))),
    ("checkpoints missing", _edit(lambda o: o.pop("checkpoints"))),
    ("sealed_to missing", _edit(lambda o: o.pop("sealed_to"))),
    ("pins an array", _edit(lambda o: o.update(pins=[]))),
    ("a pin null", _edit(lambda o: o["pins"].update({A1: None}))),
    ("an account id in uppercase hex", _edit(lambda o: o.update(
        pins={A1.upper(): o["pins"][A1]}))),
    ("an account id of 31 bytes", _edit(lambda o: o.update(pins={A1[:30]: o["pins"][A1]}))),
    ("an identity key of 31 bytes", _edit(lambda o: o["pins"][A1].update(
        identity_key=K1[:62]))),
    ("an identity key not hex", _edit(lambda o: o["pins"][A1].update(
        identity_key="g" + K1[1:]))),
    ("verified \"yes\"", _edit(lambda o: o["pins"][A1].update(verified="yes"))),
    ("verified missing", _edit(lambda o: o["pins"][A1].pop("verified"))),
    ("name a number", _edit(lambda o: o["pins"][A1].update(name=7))),
    ("name missing", _edit(lambda o: o["pins"][A1].pop("name"))),
    ("name with a lone surrogate", _edit(lambda o: o["pins"][A1].update(name="x"))
     .replace(b'"name":"x"', b'"name":"\\ud800"')),
    ("name_pinned missing", _edit(lambda o: o["pins"][A1].pop("name_pinned"))),
    ("roles missing", _edit(lambda o: o["pins"][A1].pop("roles"))),
    ("role \"admin\"", _edit(lambda o: o["pins"][A1]["roles"].update({B1: "admin"}))),
    ("a role's booklet id in uppercase", _edit(lambda o: o["pins"][A1].update(
        roles={B1.upper(): "guardian"}))),
    ("key_conflict null", _edit(lambda o: o["pins"][A1].update(key_conflict=None))),
    ("verified and in key conflict", _edit(lambda o: o["pins"][A1].update(
        verified=True, key_conflict=True))),
    ("a checkpoint an array", _edit(lambda o: o["checkpoints"].update({B1: [3]}))),
    ("seq 0", _edit(lambda o: o["checkpoints"][B1].update(seq=0))),
    ("seq 1.5", _edit(lambda o: o["checkpoints"][B1].update(seq=1.5))),
    ("seq 3.0", _edit(lambda o: o["checkpoints"][B1].update(seq=3.0))),
    ("seq 3e0", VALID_TEXT.replace(b'"seq":3', b'"seq":3e0')),
    ("seq true", _edit(lambda o: o["checkpoints"][B1].update(seq=True))),
    ("seq a string", _edit(lambda o: o["checkpoints"][B1].update(seq="3"))),
    ("seq 2^53", _edit(lambda o: o["checkpoints"][B1].update(seq=2**53))),
    ("joined_seq negative", _edit(lambda o: o["checkpoints"][B1].update(joined_seq=-1))),
    ("joined_seq missing", _edit(lambda o: o["checkpoints"][B1].pop("joined_seq"))),
    ("accepted negative", _edit(lambda o: o["checkpoints"][B1].update(accepted=-1))),
    ("accepted null", _edit(lambda o: o["checkpoints"][B1].update(accepted=None))),
    ("accepted 1.5", _edit(lambda o: o["checkpoints"][B1].update(accepted=1.5))),
    ("accepted true", _edit(lambda o: o["checkpoints"][B1].update(accepted=True))),
    ("an entry hash of 31 bytes", _edit(lambda o: o["checkpoints"][B1].update(
        entry_hash=H("b1-3")[:62]))),
    ("sealed_to unsorted", _edit(lambda o: o["sealed_to"].update({B1: [A2, A1]}))),
    ("sealed_to with a repeat", _edit(lambda o: o["sealed_to"].update({B1: [A1, A1, A2]}))),
    ("sealed_to an object", _edit(lambda o: o["sealed_to"].update({B1: {A1: True}}))),
    ("sealed_to an account id in uppercase", _edit(lambda o: o["sealed_to"].update(
        {B1: [A1.upper()]}))),
]


def negative_vectors(seal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    good = bytes.fromhex(seal[1]["blob"])  # the family's, version 7
    other = bytes.fromhex(seal[0]["blob"])  # another account's
    ct = good[44:]

    def header_at(version: int, ct_len: int) -> bytes:
        return good[:20] + u64(version) + good[28:40] + u32(ct_len)

    layout: list[tuple[str, bytes, str, str | None]] = [
        # name, blob, code of open, code of peek_header (None: the header passes)
        ("shorter than the prefix", good[:3], "truncated", "truncated"),
        ("the prefix only", good[:4], "truncated", "truncated"),
        ("the header only", good[:44], "truncated", "truncated"),
        ("the tag one byte short", good[:-1], "truncated", "truncated"),
        ("a byte after the tag", good + b"\x00", "trailing-data", "trailing-data"),
        ("protocol version 2", b"\x02" + good[1:], "unsupported-version", "unsupported-version"),
        ("suite 2", good[:1] + b"\x00\x02" + good[3:], "unsupported-suite", "unsupported-suite"),
        ("the sealed bundle's type", good[:3] + b"\x03" + good[4:], "wrong-type", "wrong-type"),
        ("version 0", header_at(0, len(ct)) + ct, "malformed", "malformed"),
        ("version 2^53", header_at(2**53, len(ct)) + ct, "malformed", "malformed"),
        ("version 2^64 - 1", header_at(2**64 - 1, len(ct)) + ct, "malformed", "malformed"),
        ("version 2^53 with a short ciphertext (checked before it is read)",
         header_at(2**53, len(ct)) + ct[:-1], "malformed", "malformed"),
        ("version 2^64 - 1 with a byte after the tag",
         header_at(2**64 - 1, len(ct)) + ct + b"\x00", "malformed", "malformed"),
        ("ct_len 15", header_at(7, 15) + ct[:15], "malformed", "malformed"),
        ("ct_len 1 048 593 (checked before the ciphertext is read)",
         header_at(7, 1_048_593) + ct, "malformed", "malformed"),
        ("ct_len 2^32 - 1", header_at(7, 2**32 - 1) + ct, "malformed", "malformed"),
        ("another account's state", other, "account-mismatch", None),
        ("a flipped bit in account_id", flip(good, 4), "account-mismatch", None),
        ("a flipped bit in version (7 to 6)", flip(good, 27), "state-decrypt-failed", None),
        ("a flipped bit in the nonce", flip(good, 28), "state-decrypt-failed", None),
        ("a flipped bit in the ciphertext", flip(good, 44), "state-decrypt-failed", None),
        ("a flipped bit in the tag", flip(good, len(good) - 1), "state-decrypt-failed", None),
    ]
    out = [{"name": name, "blob": blob.hex(), "account_id": FAMILY.account_id.hex(),
            "state_key": FAMILY.key.hex(), "code": code, "peek": peek}
           for name, blob, code, peek in layout]
    out.append({"name": "another account's key", "blob": good.hex(),
                "account_id": FAMILY.account_id.hex(), "state_key": OTHER.key.hex(),
                "code": "state-decrypt-failed", "peek": None})
    for name, plaintext in BAD_PAYLOADS:
        blob = seal_raw(plaintext, FAMILY.account_id, 1, FAMILY.key, drawn(f"nonce/{name}", 12))
        out.append({"name": name, "blob": blob.hex(), "account_id": FAMILY.account_id.hex(),
                    "state_key": FAMILY.key.hex(), "code": "bad-payload", "peek": None,
                    "plaintext": plaintext.hex()})
    return out


# --- merge ---------------------------------------------------------------------------------


def merge_case(name: str, local: dict[str, Any], stored: dict[str, Any],
               expected: dict[str, Any], pin_conflicts: list[str] | None = None,
               checkpoint_conflicts: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "local": local, "stored": stored, "expected": expected,
            "pin_conflicts": pin_conflicts or [],
            "checkpoint_conflicts": checkpoint_conflicts or []}


def merge_vectors() -> list[dict[str, Any]]:
    maija = pin(K1, verified=True, name="Maija", roles={B1: "guardian"})
    full = state(
        pins={A1: maija, A2: pin(K2, name=None, key_conflict=True)},
        checkpoints={B1: cp(5, H("b1-5"), 1)}, sealed_to={B1: [A1, A2], B2: []},
    )
    return [
        merge_case("both empty", state(), state(), state()),
        merge_case("a pin only this device has is taken as it is",
                   state(pins={A1: maija}), state(), state(pins={A1: maija})),
        merge_case("a pin only the stored state has is taken as it is, key_conflict too",
                   state(), state(pins={A2: pin(K2, key_conflict=True)}),
                   state(pins={A2: pin(K2, key_conflict=True)})),
        merge_case("same key, verified on this device only: verified",
                   state(pins={A1: pin(K1, verified=True, name="Maija")}),
                   state(pins={A1: pin(K1, name="Maija")}),
                   state(pins={A1: pin(K1, verified=True, name="Maija")})),
        merge_case("same key, verified in the stored state only: verified",
                   state(pins={A1: pin(K1, name="Maija")}),
                   state(pins={A1: pin(K1, verified=True, name="Maija")}),
                   state(pins={A1: pin(K1, verified=True, name="Maija")})),
        merge_case("same key: the stored name and name_pinned win, a null name too",
                   state(pins={A1: pin(K1, name="Maija"),
                               A2: pin(K2, name=None, name_pinned=False)}),
                   state(pins={A1: pin(K1, name=None, name_pinned=False),
                               A2: pin(K2, name="Pekka")}),
                   state(pins={A1: pin(K1, name=None, name_pinned=False),
                               A2: pin(K2, name="Pekka")})),
        merge_case("same key: roles of both, the stored role where both have one",
                   state(pins={A1: pin(K1, roles={B1: "guardian", B2: "caregiver"})}),
                   state(pins={A1: pin(K1, roles={B1: "therapist", B3: "guardian"})}),
                   state(pins={A1: pin(K1, roles={B1: "therapist", B2: "caregiver",
                                                  B3: "guardian"})})),
        merge_case("another key, only this device's verified: its pin is kept whole",
                   state(pins={A1: maija}),
                   state(pins={A1: pin(K2, name="Maija K.", roles={B2: "caregiver"})}),
                   state(pins={A1: maija})),
        merge_case("another key, only the stored pin verified: it is kept whole",
                   state(pins={A1: pin(K1, name="Maija", roles={B1: "guardian"})}),
                   state(pins={A1: pin(K2, verified=True, name="M", roles={B2: "guardian"})}),
                   state(pins={A1: pin(K2, verified=True, name="M", roles={B2: "guardian"})})),
        merge_case("another key, neither verified: the stored pin in key conflict",
                   state(pins={A1: pin(K1, name="Maija", roles={B1: "guardian"})}),
                   state(pins={A1: pin(K2, name="Mallory", roles={B2: "therapist"})}),
                   state(pins={A1: pin(K2, name="Mallory", roles={B2: "therapist"},
                                       key_conflict=True)}),
                   pin_conflicts=[A1]),
        merge_case("another key, both verified: the stored pin, unverified, in key conflict",
                   state(pins={A1: maija}),
                   state(pins={A1: pin(K2, verified=True, name="Maija", roles={B2: "guardian"})}),
                   state(pins={A1: pin(K2, name="Maija", roles={B2: "guardian"},
                                       key_conflict=True)}),
                   pin_conflicts=[A1]),
        merge_case("another key against a pin already in conflict: a conflict again",
                   state(pins={A1: pin(K1)}), state(pins={A1: pin(K2, key_conflict=True)}),
                   state(pins={A1: pin(K2, key_conflict=True)}), pin_conflicts=[A1]),
        merge_case("same key: a key conflict on either side is carried",
                   state(pins={A1: pin(K1, key_conflict=True), A2: pin(K2)}),
                   state(pins={A1: pin(K1), A2: pin(K2, key_conflict=True)}),
                   state(pins={A1: pin(K1, key_conflict=True), A2: pin(K2, key_conflict=True)})),
        merge_case("same key: verified on either side clears the key conflict",
                   state(pins={A1: pin(K1, verified=True), A2: pin(K2, key_conflict=True)}),
                   state(pins={A1: pin(K1, key_conflict=True), A2: pin(K2, verified=True)}),
                   state(pins={A1: pin(K1, verified=True), A2: pin(K2, verified=True)})),
        merge_case("a missing key_conflict is false",
                   state(pins={A1: pin(K1, key_conflict=None), A2: pin(K2, key_conflict=None)}),
                   state(pins={A1: pin(K1, key_conflict=None)}),
                   state(pins={A1: pin(K1), A2: pin(K2)})),
        merge_case("checkpoints of booklets only one side has are all kept",
                   state(checkpoints={B1: cp(3, H("b1-3"))}),
                   state(checkpoints={B2: cp(5, H("b2-5"), 2)}),
                   state(checkpoints={B1: cp(3, H("b1-3")), B2: cp(5, H("b2-5"), 2)})),
        merge_case("the higher seq is kept whole, this device's",
                   state(checkpoints={B1: cp(7, H("b1-7"), 0)}),
                   state(checkpoints={B1: cp(5, H("b1-5"), 4)}),
                   state(checkpoints={B1: cp(7, H("b1-7"), 0)})),
        merge_case("the higher seq is kept whole, the stored one",
                   state(checkpoints={B1: cp(5, H("b1-5"), 4)}),
                   state(checkpoints={B1: cp(7, H("b1-7"), 0)}),
                   state(checkpoints={B1: cp(7, H("b1-7"), 0)})),
        merge_case("same seq and hash: the higher joined_seq, from either side",
                   state(checkpoints={B1: cp(5, H("b1-5"), 3), B2: cp(2, H("b2-2"), 0)}),
                   state(checkpoints={B1: cp(5, H("b1-5"), 1), B2: cp(2, H("b2-2"), 2)}),
                   state(checkpoints={B1: cp(5, H("b1-5"), 3), B2: cp(2, H("b2-2"), 2)})),
        merge_case("same seq, another hash: this device's is kept, a checkpoint conflict",
                   state(checkpoints={B1: cp(5, H("b1-5"), 0)}),
                   state(checkpoints={B1: cp(5, H("b1-5-fork"), 2)}),
                   state(checkpoints={B1: cp(5, H("b1-5"), 0)}), checkpoint_conflicts=[B1]),
        merge_case("a history accepted after a restore wins over a higher seq, this device's",
                   state(checkpoints={B1: cp(4, H("b1-4-restored"), 0, 1)}),
                   state(checkpoints={B1: cp(9, H("b1-9"), 0, 0)}),
                   state(checkpoints={B1: cp(4, H("b1-4-restored"), 0, 1)})),
        merge_case("a history accepted after a restore wins over a higher seq, the stored one",
                   state(checkpoints={B1: cp(9, H("b1-9"), 2, 1)}),
                   state(checkpoints={B1: cp(3, H("b1-3-restored"), 0, 2)}),
                   state(checkpoints={B1: cp(3, H("b1-3-restored"), 0, 2)})),
        merge_case("the same accepted count: the seq rules, the count kept",
                   state(checkpoints={B1: cp(6, H("b1-6"), 0, 1)}),
                   state(checkpoints={B1: cp(4, H("b1-4"), 0, 1)}),
                   state(checkpoints={B1: cp(6, H("b1-6"), 0, 1)})),
        merge_case("an accepted count left out is 0, and loses to 1",
                   state(checkpoints={B1: cp(8, H("b1-8"), 0, None)}),
                   state(checkpoints={B1: cp(2, H("b1-2"), 0, 1)}),
                   state(checkpoints={B1: cp(2, H("b1-2"), 0, 1)})),
        merge_case("same seq, another hash, another accepted count: the higher count, no conflict",
                   state(checkpoints={B1: cp(5, H("b1-5"), 0, 0)}),
                   state(checkpoints={B1: cp(5, H("b1-5-restored"), 0, 1)}),
                   state(checkpoints={B1: cp(5, H("b1-5-restored"), 0, 1)})),
        merge_case("sealed_to: the union, sorted, an empty list kept",
                   state(sealed_to={B1: [A1, A3], B2: [A2], B3: []}),
                   state(sealed_to={B1: [A2, A3], B3: [A4]}),
                   state(sealed_to={B1: [A1, A2, A3], B2: [A2], B3: [A4]})),
        merge_case(
            "conflicts are listed sorted, whatever order the members came in",
            state(pins={A3: pin(K1), A2: pin(K1), A1: pin(K1)},
                  checkpoints={B3: cp(2, H("b3-2")), B1: cp(4, H("b1-4")), B2: cp(1, H("b2-1"))}),
            state(pins={A1: pin(K2), A3: pin(K2), A2: pin(K1, verified=True)},
                  checkpoints={B2: cp(1, H("b2-1")), B3: cp(2, H("b3-fork")),
                               B1: cp(4, H("b1-fork"))}),
            state(pins={A1: pin(K2, key_conflict=True), A2: pin(K1, verified=True),
                        A3: pin(K2, key_conflict=True)},
                  checkpoints={B1: cp(4, H("b1-4")), B2: cp(1, H("b2-1")), B3: cp(2, H("b3-2"))}),
            pin_conflicts=[A1, A3], checkpoint_conflicts=[B1, B3]),
        merge_case("a state merged with itself is itself", full, full, full),
    ]


def build() -> str:
    seal = seal_vectors()
    doc = {
        "description": "Sealed client state of docs/protocol.md §6.5. Bytes are lowercase hex. "
                       "`state` objects are the JSON inside the blob; `plaintext` is exactly what "
                       "a writer seals for `seal` cases. `peek` is the header check's code, or "
                       "null where the header passes. Merge results are written by hand.",
        "generator": "tools/gen_client_state_vectors.py",
        "seal": seal,
        "open": open_vectors(),
        "open_negative": negative_vectors(seal),
        "merge": merge_vectors(),
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = build()
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")
