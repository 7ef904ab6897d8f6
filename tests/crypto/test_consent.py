"""Guardian consent records (§5.1): Python against tests/vectors/consent-v1.json."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from secure_msg.crypto import consent, keys
from secure_msg.crypto.errors import ProtocolError

ROOT = Path(__file__).resolve().parents[2]
V: dict[str, Any] = json.loads(
    (ROOT / "tests" / "vectors" / "consent-v1.json").read_text(encoding="utf-8"))
h = bytes.fromhex
ACCOUNTS = {a["account_id"]: keys.AccountKeys.from_secrets(
    h(a["account_id"]), h(a["identity_seed"]), h(a["encryption_secret"])) for a in V["accounts"]}


def test_consent_vectors_file_is_what_the_generator_makes() -> None:
    gen = runpy.run_path(str(ROOT / "tools" / "gen_vectors.py"))
    committed = (ROOT / "tests" / "vectors" / "consent-v1.json").read_text(encoding="utf-8")
    assert gen["render_consent"]() == committed


def _context(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "guardian_identity_key": h(c["guardian_identity_key"]), "action": c["action"],
        "booklet_id": h(c["booklet_id"]), "guardian_id": h(c["guardian_id"]),
        "caregiver_id": h(c["caregiver_id"]), "caregiver_identity_key":
        h(c["caregiver_identity_key"]), "until": c["until"], "scope": c["scope"],
    }


@pytest.mark.parametrize("rec", V["records"], ids=lambda r: r["name"])
def test_records_reseal_byte_for_byte_and_verify(rec: dict[str, Any]) -> None:
    guardian, caregiver = ACCOUNTS[rec["guardian"]], ACCOUNTS[V["caregiver"]]
    blob = consent.seal_consent(
        guardian, action=rec["action"], booklet_id=h(V["booklet_id"]),
        caregiver_id=caregiver.account_id, caregiver_identity_key=caregiver.identity_public,
        until=rec["until"], scope=rec["scope"], created_at=rec["created_at"])
    assert blob.hex() == rec["record"]  # Ed25519 is deterministic in `cryptography`
    assert len(blob) == consent.LENGTH
    parsed = consent.verify_consent(
        h(rec["record"]), guardian_identity_key=guardian.identity_public, action=rec["action"],
        booklet_id=h(V["booklet_id"]), guardian_id=guardian.account_id,
        caregiver_id=caregiver.account_id, caregiver_identity_key=caregiver.identity_public,
        until=rec["until"], scope=rec["scope"])
    assert parsed.caregiver_fingerprint.hex() == rec["caregiver_fingerprint"]
    assert parsed.created_at == rec["created_at"]


@pytest.mark.parametrize("case", V["negative"], ids=lambda n: n["name"])
def test_negative_consent_vectors(case: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as err:
        consent.verify_consent(h(case["data"]), **_context(case["context"]))
    assert err.value.code == case["error"]


def test_a_withdrawal_verifies_whatever_its_terms() -> None:
    rec = next(r for r in V["records"] if r["name"] == "withdraw-guardian1")
    guardian, caregiver = ACCOUNTS[rec["guardian"]], ACCOUNTS[V["caregiver"]]
    consent.verify_consent(
        h(rec["record"]), guardian_identity_key=guardian.identity_public,
        action=consent.WITHDRAW, booklet_id=h(V["booklet_id"]), guardian_id=guardian.account_id,
        caregiver_id=caregiver.account_id, caregiver_identity_key=caregiver.identity_public)
