"""The Python implementation reproduces and passes tests/vectors/protocol-v1.json."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from secure_msg.crypto import envelope, grant, keys, recovery, safety
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.payloads import decode_payload

ROOT = Path(__file__).resolve().parents[2]
h = bytes.fromhex


class Replay:
    """Hands back recorded random inputs in order, so a seal can be redone exactly."""

    def __init__(self, values: list[bytes]) -> None:
        self._values = list(values)

    def __call__(self, n: int) -> bytes:
        value = self._values.pop(0)
        assert len(value) == n
        return value


def _accounts(v: dict[str, Any]) -> dict[str, keys.AccountKeys]:
    return {
        a["name"]: keys.AccountKeys.from_secrets(
            h(a["account_id"]), h(a["identity_seed"]), h(a["encryption_secret"])
        )
        for a in v["accounts"]
    }


def _by_id(v: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["account_id"]: a for a in v["accounts"]}


def test_vectors_file_is_what_the_generator_makes() -> None:
    """Regenerating the vectors from their fixed seeds gives the committed file byte for byte."""
    gen = runpy.run_path(str(ROOT / "tools" / "gen_vectors.py"))
    committed = (ROOT / "tests" / "vectors" / "protocol-v1.json").read_text(encoding="utf-8")
    assert gen["render"]() == committed


def test_accounts(vectors: dict[str, Any]) -> None:
    """Keys, statements, password keys, both sealed bundles and fingerprints match the vectors."""
    for a in vectors["accounts"]:
        acct = keys.AccountKeys.from_secrets(
            h(a["account_id"]), h(a["identity_seed"]), h(a["encryption_secret"])
        )
        assert acct.identity_public.hex() == a["identity_key"]
        assert acct.encryption_public.hex() == a["encryption_key"]
        st = keys.KeyStatement.parse(h(a["key_statement"]))
        st.verify()
        assert st.signed_part() == acct.statement(a["created_at"]).signed_part()
        pw = keys.derive_password_keys(a["password"], h(a["salt"]), a["iterations"])
        assert (pw.auth_key.hex(), pw.kek.hex()) == (a["auth_key"], a["kek"])
        opened = keys.open_bundle(h(a["sealed_bundle_password"]), pw.kek, keys.PURPOSE_PASSWORD)
        assert opened == acct
        opened.check_matches(st)
        secret = recovery.parse_recovery_key(a["recovery_key"])
        assert secret.hex() == a["recovery_secret"]
        assert recovery.format_recovery_key(secret) == a["recovery_key"]
        rk = recovery.derive_recovery_keys(secret)
        assert (rk.auth_key.hex(), rk.kek.hex()) == (a["recovery_auth_key"], a["recovery_kek"])
        assert keys.open_bundle(
            h(a["sealed_bundle_recovery"]), rk.kek, keys.PURPOSE_RECOVERY
        ) == acct
        assert safety.fingerprint(acct.identity_public) == a["fingerprint"]


def test_entries_reseal_verify_and_open(vectors: dict[str, Any]) -> None:
    """Each entry reseals to the exact envelope, passes the server check and opens for members."""
    accts = _accounts(vectors)
    ids = _by_id(vectors)
    members = [a for a in accts.values() if a.account_id.hex() in vectors["members"]]
    recipients = {m.account_id: m.encryption_public for m in members}
    prev = envelope.ZERO_HASH
    for e in vectors["entries"]:
        author = accts[ids[e["author"]]["name"]]
        rng = Replay([h(e["content_key"]), h(e["nonce"])] + [h(x) for x in e["ephemeral_secrets"]])
        sealed = envelope.seal_entry(
            author, booklet_id=h(e["booklet_id"]), entry_id=h(e["entry_id"]), kind=e["kind_id"],
            sequence=e["sequence"], prev_hash=h(e["prev_hash"]), created_at=e["created_at"],
            plaintext=e["plaintext"].encode(), recipients=list(recipients.items()), rng=rng,
        )
        assert sealed.hex() == e["envelope"]
        assert h(e["prev_hash"]) == prev
        verified = envelope.verify_entry(
            sealed, author_identity_key=author.identity_public, booklet_id=h(e["booklet_id"]),
            author_id=author.account_id, recipients=recipients,
        )
        assert verified.entry_hash.hex() == e["entry_hash"]
        parsed = envelope.parse_envelope(sealed)
        assert parsed.header_hash.hex() == e["header_hash"]
        assert parsed.header.key_commitment.hex() == e["key_commitment"]
        for m in members:
            opened = envelope.open_entry(
                sealed, author_identity_key=author.identity_public, author_id=author.account_id,
                booklet_id=h(e["booklet_id"]), me=m,
            )
            assert opened.plaintext.decode() == e["plaintext"]
            assert decode_payload(opened.header.kind, opened.plaintext)["kind"] == e["kind"]
        prev = verified.entry_hash


def test_grant_lets_the_newcomer_read_history(vectors: dict[str, Any]) -> None:
    """The server accepts the grant and the newcomer opens every granted entry, nothing else."""
    accts = _accounts(vectors)
    g = vectors["grant"]
    ctx = g["context"]
    blob = h(g["grant"])
    grant.verify_grant(
        blob, granter_identity_key=h(ctx["granter_identity_key"]), booklet_id=h(ctx["booklet_id"]),
        granter_id=h(ctx["granter_id"]), grantee_id=h(ctx["grantee_id"]),
        grantee_ek=h(ctx["grantee_ek"]),
        entry_hashes={h(k): h(x) for k, x in ctx["entry_hashes"].items()},
    )
    newcomer = accts["newcomer"]
    granted = grant.open_grant(
        blob, granter_identity_key=h(ctx["granter_identity_key"]), me=newcomer
    )
    ids = _by_id(vectors)
    by_entry = {e["entry_id"]: e for e in vectors["entries"]}
    assert {k.hex() for k in granted} == {i["entry_id"] for i in g["items"]}
    for entry_id, (ehash, key) in granted.items():
        e = by_entry[entry_id.hex()]
        author = accts[ids[e["author"]]["name"]]
        opened = envelope.open_entry_with_key(
            h(e["envelope"]), author_identity_key=author.identity_public,
            author_id=author.account_id, booklet_id=h(e["booklet_id"]), entry_id=entry_id,
            content_key=key, expected_hash=ehash,
        )
        assert opened.plaintext.decode() == e["plaintext"]
        with pytest.raises(ProtocolError) as err:
            envelope.open_entry(
                h(e["envelope"]), author_identity_key=author.identity_public,
                author_id=author.account_id, booklet_id=h(e["booklet_id"]), me=newcomer,
            )
        assert err.value.code == "not-a-recipient"


def test_safety_numbers_and_qr(vectors: dict[str, Any]) -> None:
    """Safety numbers are 60 digits, equal from both sides; QR payloads round-trip and check."""
    by_name = {a["name"]: a for a in vectors["accounts"]}
    for s in vectors["safety_numbers"]:
        a, b = by_name[s["a"]], by_name[s["b"]]
        pa = (h(a["account_id"]), h(a["identity_key"]))
        pb = (h(b["account_id"]), h(b["identity_key"]))
        assert safety.safety_number(pa, pb) == safety.safety_number(pb, pa) == s["number"]
        assert len(s["number"]) == 60
        assert s["number"].isdigit()
    for q in vectors["qr_payloads"]:
        shower, scanner = by_name[q["shower"]], by_name[q["scanner"]]
        payload = safety.QrPayload.parse(h(q["payload"]))
        me = (h(scanner["account_id"]), h(scanner["identity_key"]))
        peer = (h(shower["account_id"]), h(shower["identity_key"]))
        payload.check(peer, me)
        with pytest.raises(ProtocolError) as err:
            payload.check(me, peer)
        assert err.value.code == "qr-mismatch"


def test_recovery_key_spellings(vectors: dict[str, Any]) -> None:
    """Lower case, spaces, and I/L/O look-alikes parse to the same secret."""
    for r in vectors["recovery_keys"]:
        assert recovery.parse_recovery_key(r["text"]).hex() == r["secret"]


def _as(ctx: dict[str, Any], accts: dict[str, keys.AccountKeys]) -> keys.AccountKeys:
    """The reader a negative vector names: an account of the vectors, or keys of its own."""
    if "as_keys" in ctx:
        k = ctx["as_keys"]
        return keys.AccountKeys.from_secrets(
            h(k["account_id"]), h(k["identity_seed"]), h(k["encryption_secret"])
        )
    return accts[ctx["as"]]


def test_payload_vectors(vectors: dict[str, Any]) -> None:
    """Each plaintext reads as its payload (the kind and the fields of §4.5, nothing else) or
    fails with its code: the rules two readers must agree on."""
    assert len(vectors["payloads"]) > 30
    wrong = []
    for case in vectors["payloads"]:
        try:
            got: Any = decode_payload(case["kind_id"], h(case["plaintext"]))
        except ProtocolError as exc:
            got = exc.code
        if got != (case["payload"] or case["error"]):
            wrong.append((case["name"], got))
    assert wrong == []


def run_negative(case: dict[str, Any], accts: dict[str, keys.AccountKeys]) -> None:
    obj, check, ctx = case["object"], case["check"], case["context"]
    data = case["data"]
    if obj == "entry" and check == "verify":
        envelope.verify_entry(
            h(data), author_identity_key=h(ctx["author_identity_key"]),
            booklet_id=h(ctx["booklet_id"]), author_id=h(ctx["author_id"]),
            recipients={h(k): h(x) for k, x in ctx["recipients"].items()},
        )
    elif obj == "entry" and check == "open":
        envelope.open_entry(
            h(data), author_identity_key=h(ctx["author_identity_key"]),
            author_id=h(ctx["author_id"]), booklet_id=h(ctx["booklet_id"]), me=_as(ctx, accts),
        )
    elif obj == "entry" and check == "open-with-key":
        envelope.open_entry_with_key(
            h(data), author_identity_key=h(ctx["author_identity_key"]),
            author_id=h(ctx["author_id"]), booklet_id=h(ctx["booklet_id"]),
            entry_id=h(ctx["entry_id"]), content_key=h(ctx["content_key"]),
            expected_hash=h(ctx["entry_hash"]),
        )
    elif obj == "key-statement":
        st = keys.KeyStatement.parse(h(data))
        st.verify()
        st.check_pinned(h(ctx["account_id"]), h(ctx["identity_key"]))
    elif obj == "sealed-bundle":
        opened = keys.open_bundle(h(data), h(ctx["kek"]), ctx["purpose"])
        if "statement" in ctx:
            opened.check_matches(keys.KeyStatement.parse(h(ctx["statement"])))
    elif obj == "recovery-key":
        recovery.parse_recovery_key(data)
    elif obj == "kdf":
        keys.derive_password_keys(data["password"], h(data["salt"]), data["iterations"])
    elif obj == "grant" and check == "open":
        grant.open_grant(h(data), granter_identity_key=h(ctx["granter_identity_key"]),
                         me=_as(ctx, accts))
    elif obj == "grant" and check == "verify":
        grant.verify_grant(
            h(data), granter_identity_key=h(ctx["granter_identity_key"]),
            booklet_id=h(ctx["booklet_id"]), granter_id=h(ctx["granter_id"]),
            grantee_id=h(ctx["grantee_id"]), grantee_ek=h(ctx["grantee_ek"]),
            entry_hashes={h(k): h(x) for k, x in ctx["entry_hashes"].items()},
        )
    else:
        raise AssertionError(f"unknown negative vector kind {obj}/{check}")


def test_negative_vectors(vectors: dict[str, Any]) -> None:
    """Every negative vector fails with exactly its expected error code."""
    accts = _accounts(vectors)
    assert len(vectors["negative"]) > 60
    wrong = []
    for case in vectors["negative"]:
        try:
            run_negative(case, accts)
        except ProtocolError as exc:
            if exc.code != case["error"]:
                wrong.append((case["name"], exc.code, case["error"]))
            continue
        wrong.append((case["name"], "accepted", case["error"]))
    assert wrong == []
