"""tests/vectors/roster-v1.json against the Python implementation: signed rosters (§6.6),
invitation records, join proofs, fragments and a grant to an invitation key (§6.7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secure_msg.crypto import envelope, grant, keys
from secure_msg.crypto import roster as r
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.rng import SeededRng

ROOT = Path(__file__).resolve().parents[2]
V = json.loads((ROOT / "tests" / "vectors" / "roster-v1.json").read_text(encoding="utf-8"))
h = bytes.fromhex
PEOPLE = {p["name"]: p for p in V["people"]}
T = PEOPLE["therapist"]
ROSTERS = {c["name"]: c for c in V["rosters"]}
INVITES = {c["name"]: c for c in V["invitations"]}


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


def _keys(p: dict[str, Any]) -> keys.AccountKeys:
    return keys.AccountKeys.from_secrets(h(p["account_id"]), h(p["identity_seed"]),
                                         h(p["encryption_secret"]))


def _verify(blob: bytes, ctx: dict[str, Any]) -> r.Roster:
    return r.verify_roster(blob, therapist_identity_key=h(ctx["therapist_identity_key"]),
                           booklet_id=h(ctx["booklet_id"]), therapist_id=h(ctx["therapist_id"]),
                           highest_seen=ctx["highest_seen"])


def test_regenerating_gives_the_same_bytes() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_roster_vectors.py"),
                           "--check"], check=False)
    assert done.returncode == 0, "tests/vectors/roster-v1.json is not what its tool makes"


@pytest.mark.parametrize("case", V["rosters"], ids=_ids(V["rosters"]))
def test_roster_written_and_read(case: dict[str, Any]) -> None:
    members = [r.RosterMember(h(m["account_id"]), h(m["identity_key"]), m["role"], m["until"])
               for m in case["members"]]
    blob = r.sign_roster(_keys(T), booklet_id=h(case["booklet_id"]), version=case["version"],
                         created_at=case["created_at"], members=reversed(members))
    assert blob[:-64].hex() == case["signed_part"]
    ros = _verify(h(case["roster"]), {"therapist_identity_key": T["identity_key"],
                                      "booklet_id": case["booklet_id"],
                                      "therapist_id": case["therapist_id"], "highest_seen": 0})
    assert (ros.version, ros.created_at, list(ros.members)) == (
        case["version"], case["created_at"], members)
    _verify(blob, {"therapist_identity_key": T["identity_key"], "booklet_id":
                   case["booklet_id"], "therapist_id": case["therapist_id"], "highest_seen": 0})


@pytest.mark.parametrize("case", V["roster_negative"], ids=_ids(V["roster_negative"]))
def test_roster_negative(case: dict[str, Any]) -> None:
    if case["error"] is None:
        _verify(h(case["roster"]), case["context"])
        return
    with pytest.raises(ProtocolError) as err:
        _verify(h(case["roster"]), case["context"])
    assert err.value.code == case["error"]


@pytest.mark.parametrize("case", V["member_checks"], ids=_ids(V["member_checks"]))
def test_member_checks(case: dict[str, Any]) -> None:
    ros = r.parse_roster(h(ROSTERS[case["roster"]]["roster"]))

    def run() -> None:
        r.check_member(ros, account_id=h(case["account_id"]),
                       identity_key=h(case["identity_key"]), role=case["role"], now_ms=case["now"])

    if case["error"] is None:
        run()
        return
    with pytest.raises(ProtocolError) as err:
        run()
    assert err.value.code == case["error"]


@pytest.mark.parametrize("case", V["invitations"], ids=_ids(V["invitations"]))
def test_invitation_keys_and_record(case: dict[str, Any]) -> None:
    inv = r.invitation_keys(h(case["secret"]))
    assert (inv.identity_seed.hex(), inv.encryption_secret.hex(), inv.identity_public.hex(),
            inv.encryption_public.hex(), inv.account_id.hex()) == (
        case["identity_seed"], case["encryption_secret"], case["invitation_ik"],
        case["invitation_ek"], case["invitation_id"])
    blob = r.sign_invitation(_keys(T), booklet_id=h(V["booklet_id"]), invitation=inv,
                             role=case["role"], created_at=case["created_at"])
    assert blob[:-64] == h(case["record"])[:-64]
    rec = r.verify_invitation(h(case["record"]), therapist_identity_key=h(T["identity_key"]),
                              booklet_id=h(V["booklet_id"]), therapist_id=h(T["account_id"]))
    assert (rec.id.hex(), rec.role, rec.created_at) == (
        case["invitation_id"], case["role"], case["created_at"])
    r.check_invitation_secret(rec, inv)
    for via in ("qr", "link"):
        frag = r.parse_fragment(case[f"fragment_{via}"])
        assert (frag.secret.hex(), frag.via) == (case["secret"], via)
        assert frag.encode() == case[f"fragment_{via}"]


@pytest.mark.parametrize("case", V["invitation_negative"], ids=_ids(V["invitation_negative"]))
def test_invitation_negative(case: dict[str, Any]) -> None:
    ctx = case["context"]
    with pytest.raises(ProtocolError) as err:
        r.verify_invitation(h(case["record"]),
                            therapist_identity_key=h(ctx["therapist_identity_key"]),
                            booklet_id=h(ctx["booklet_id"]), therapist_id=h(ctx["therapist_id"]))
    assert err.value.code == case["error"]


@pytest.mark.parametrize("case", V["invitation_secret_checks"],
                         ids=_ids(V["invitation_secret_checks"]))
def test_invitation_secret_checks(case: dict[str, Any]) -> None:
    rec = r.parse_invitation(h(case["record"]))
    inv = r.invitation_keys(h(case["secret"]))
    if case["error"] is None:
        r.check_invitation_secret(rec, inv)
        return
    with pytest.raises(ProtocolError) as err:
        r.check_invitation_secret(rec, inv)
    assert err.value.code == case["error"]


def _record(name: str) -> r.Invitation:
    return r.parse_invitation(h(INVITES[name]["record"]))


@pytest.mark.parametrize("case", V["join_proofs"], ids=_ids(V["join_proofs"]))
def test_join_proofs(case: dict[str, Any]) -> None:
    inv = r.invitation_keys(h(INVITES[case["invitation"]]["secret"]))
    blob = r.sign_join_proof(inv, booklet_id=h(V["booklet_id"]),
                             member_id=h(case["member_id"]), member_ik=h(case["member_ik"]))
    assert blob[:-64] == h(case["proof"])[:-64]
    for proof in (blob, h(case["proof"])):
        r.verify_join_proof(proof, _record(case["invitation"]), member_id=h(case["member_id"]),
                            member_ik=h(case["member_ik"]))


@pytest.mark.parametrize("case", V["join_proof_negative"], ids=_ids(V["join_proof_negative"]))
def test_join_proof_negative(case: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as err:
        r.verify_join_proof(h(case["proof"]), _record(case["invitation"]),
                            member_id=h(case["member_id"]), member_ik=h(case["member_ik"]))
    assert err.value.code == case["error"]


def test_invitation_grant_opens_with_the_secret() -> None:
    case = V["invitation_grant"]
    inv = r.invitation_keys(h(INVITES[case["invitation"]]["secret"]))
    keys_ = grant.open_grant(h(case["grant"]), granter_identity_key=h(T["identity_key"]), me=inv)
    for e in case["entries"]:
        ehash, key = keys_[h(e["entry_id"])]
        assert (ehash.hex(), key.hex()) == (e["entry_hash"], e["content_key"])
        opened = envelope.open_entry_with_key(
            h(e["envelope"]), author_identity_key=h(T["identity_key"]),
            author_id=h(T["account_id"]), booklet_id=h(V["booklet_id"]),
            entry_id=h(e["entry_id"]), content_key=key, expected_hash=ehash)
        assert opened.plaintext.hex() == e["plaintext"]
    # the grant is reproduced from its inputs, ephemerals in item order
    eph = iter(h(x) for x in case["ephemeral_secrets"])
    items = [(h(e["entry_id"]), h(e["entry_hash"]), h(e["content_key"])) for e in case["entries"]]
    again = grant.seal_grant(_keys(T), booklet_id=h(V["booklet_id"]), grantee_id=inv.account_id,
                             grantee_ek=inv.encryption_public,
                             created_at=grant.parse_grant(h(case["grant"])).created_at,
                             keys=items, rng=lambda n: next(eph))
    assert again == h(case["grant"])
    # someone else's secret opens nothing
    with pytest.raises(ProtocolError) as err:
        grant.open_grant(h(case["grant"]), granter_identity_key=h(T["identity_key"]),
                         me=r.invitation_keys(SeededRng(b"other")(32)))
    assert err.value.code == "wrong-grantee"


@pytest.mark.parametrize("case", V["fragments"], ids=[c["text"] or "empty"
                                                      for c in V["fragments"]])
def test_fragments(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ProtocolError) as err:
            r.parse_fragment(case["text"])
        assert err.value.code == case["error"]
        return
    frag = r.parse_fragment(case["text"])
    assert (frag.secret.hex(), frag.therapist_fingerprint, frag.via) == (
        case["secret"], case["fingerprint"], case["via"])
