"""Generate tests/vectors/protocol-v1.json from fixed seeds (docs/protocol.md §8).

Running it twice gives the same bytes; tests/crypto/test_vectors.py checks the committed file is
exactly what this script makes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from secure_msg.crypto import consent, envelope, grant, hpke, keys, labels, recovery, safety
from secure_msg.crypto.encoding import u16, u32
from secure_msg.crypto.envelope import KIND_IDS, ZERO_HASH
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.payloads import decode_payload, encode_payload
from secure_msg.crypto.primitives import aes_gcm_encrypt, sha256, sign
from secure_msg.crypto.rng import SeededRng

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "protocol-v1.json"
OUT_CONSENT = OUT.with_name("consent-v1.json")
BOOKLET = bytes.fromhex("b0" * 16)
CREATED = 1_795_000_000_000  # 2026-11-18, fixed
PASSWORDS = {
    "therapist": "correct horse battery staple",
    "guardian1": "A\u0308iti-salasana 2026",  # decomposed Ä: NFC must fold it
    "guardian2": "hemligt lösenord",
    "caregiver": "päiväkoti!",
    "newcomer": "uusi jäsen 7",
}


def h(b: bytes) -> str:
    return b.hex()


def make_account(name: str, index: int) -> tuple[keys.AccountKeys, dict[str, Any]]:
    rng = SeededRng(b"secure-msg/v1/vectors/account/" + name.encode())
    account_id = bytes([index]) * 16
    acct = keys.AccountKeys.generate(account_id, rng)
    salt = rng(16)
    pw = keys.derive_password_keys(PASSWORDS[name], salt)
    secret = recovery.generate_recovery_secret(rng)
    rk = recovery.derive_recovery_keys(secret)
    statement = acct.statement(CREATED)
    return acct, {
        "name": name,
        "account_id": h(account_id),
        "identity_seed": h(acct.identity_seed),
        "encryption_secret": h(acct.encryption_secret),
        "identity_key": h(acct.identity_public),
        "encryption_key": h(acct.encryption_public),
        "created_at": CREATED,
        "key_statement": h(statement.encode()),
        "password": PASSWORDS[name],
        "salt": h(salt),
        "iterations": keys.PBKDF2_ITERATIONS,
        "auth_key": h(pw.auth_key),
        "kek": h(pw.kek),
        "bundle": h(acct.encode()),
        "sealed_bundle_password": h(keys.seal_bundle(acct, pw.kek, keys.PURPOSE_PASSWORD, rng)),
        "recovery_secret": h(secret),
        "recovery_key": recovery.format_recovery_key(secret),
        "recovery_auth_key": h(rk.auth_key),
        "recovery_kek": h(rk.kek),
        "sealed_bundle_recovery": h(keys.seal_bundle(acct, rk.kek, keys.PURPOSE_RECOVERY, rng)),
        "fingerprint": safety.fingerprint(acct.identity_public),
    }


class _Recorder:
    """Wraps the seeded source and remembers what it handed out, so vectors list every input."""

    def __init__(self, seed: bytes) -> None:
        self._rng = SeededRng(seed)
        self.drawn: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        out = self._rng(n)
        self.drawn.append(out)
        return out


def make_entry(
    name: str, author: keys.AccountKeys, members: list[keys.AccountKeys], kind: str,
    sequence: int, prev_hash: bytes, plaintext: bytes,
) -> tuple[bytes, dict[str, Any]]:
    rng = _Recorder(b"secure-msg/v1/vectors/entry/" + name.encode())
    entry_id = bytes([0xE0 + sequence]) * 16
    recipients = [(m.account_id, m.encryption_public) for m in members]
    sealed = envelope.seal_entry(
        author, booklet_id=BOOKLET, entry_id=entry_id, kind=KIND_IDS[kind], sequence=sequence,
        prev_hash=prev_hash, created_at=CREATED + sequence, plaintext=plaintext,
        recipients=recipients, rng=rng,
    )
    parsed = envelope.parse_envelope(sealed)
    return sealed, {
        "name": name,
        "author": h(author.account_id),
        "booklet_id": h(BOOKLET),
        "entry_id": h(entry_id),
        "kind": kind,
        "kind_id": KIND_IDS[kind],
        "sequence": sequence,
        "prev_hash": h(prev_hash),
        "created_at": CREATED + sequence,
        "content_key": h(rng.drawn[0]),
        "nonce": h(rng.drawn[1]),
        "ephemeral_secrets": [h(x) for x in rng.drawn[2:]],
        "plaintext": plaintext.decode("utf-8"),
        "recipients": [h(rid) for rid, _ in sorted(recipients)],
        "header": h(parsed.header_bytes),
        "header_hash": h(parsed.header_hash),
        "envelope": h(sealed),
        "unsigned_length": len(parsed.signed_part),
        "key_commitment": h(parsed.header.key_commitment),
        "entry_hash": h(parsed.entry_hash),
    }


# Ed25519 (RFC 8032): the group order L and two encodings of the identity point, the canonical
# one and y = p + 1. Signatures built from them are what libsodium refuses and some Ed25519
# implementations (`cryptography`, WebCrypto) accept (docs/protocol.md §1).
ED25519_L = 2**252 + 27742317777372353535851937790883648493
IDENTITY_POINT = b"\x01" + bytes(31)
IDENTITY_NON_CANONICAL = b"\xee" + b"\xff" * 30 + b"\x7f"


def forged_under_identity_key() -> bytes:
    """R = identity, S = 0: a valid signature of every message under the identity-point key."""
    return IDENTITY_POINT + bytes(32)


def signed_with_r(seed: bytes, r: bytes, message: bytes) -> bytes:
    """A signature by the key's holder whose R is the small-order point `r`: S = H(R‖A‖M)·a,
    so S·B = H·A holds, an equation only a check of R itself refuses."""
    digest = bytearray(hashlib.sha512(seed).digest()[:32])
    digest[0] &= 248
    digest[31] = (digest[31] & 127) | 64
    a = int.from_bytes(digest, "little")
    public = keys.AccountKeys.from_secrets(bytes(16), seed, bytes(32)).identity_public
    h_ = int.from_bytes(hashlib.sha512(r + public + message).digest(), "little") % ED25519_L
    return r + (h_ * a % ED25519_L).to_bytes(32, "little")


def s_plus_l(signature: bytes) -> bytes:
    """The same signature with S + L in place of S: non-canonical, the equation still holds."""
    s = int.from_bytes(signature[32:], "little") + ED25519_L
    return signature[:32] + s.to_bytes(32, "little")


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def expect_error(fn: Any) -> str:
    try:
        fn()
    except ProtocolError as exc:
        return exc.code
    raise AssertionError("negative vector did not fail")


def resign(author: keys.AccountKeys, unsigned: bytes) -> bytes:
    """A malicious but validly signing author: re-sign a modified envelope."""
    return unsigned + sign(author.identity, labels.ENTRY_SIGNATURE, unsigned)


def miscommitted(
    author: keys.AccountKeys, members: list[keys.AccountKeys], *, wraps_body_key: bool
) -> bytes:
    """A well-formed, validly signed entry whose header commits to another key than the one
    its body is encrypted with: what an equivocating author would have to send. The wraps carry
    the body's key, or (not `wraps_body_key`) a third key, which only an implementation that
    checks the commitment before decrypting refuses as `key-commitment-mismatch`."""
    rng = SeededRng(b"miscommitted")
    content_key, nonce, committed, third = rng(32), rng(12), rng(32), rng(32)
    header = envelope.EntryHeader(
        BOOKLET, b"\xcc" * 16, author.account_id, 2, 9, ZERO_HASH, CREATED, nonce,
        envelope.key_commitment(committed),
    ).encode()
    body = aes_gcm_encrypt(content_key, nonce, b'{"kind":"note","text":"x"}', header)
    hh = sha256(labels.ENTRY_HEADER, header)
    parts = [header, u32(len(body)), body, u16(len(members))]
    for m in sorted(members, key=lambda m: m.account_id):
        info = envelope.wrap_info(hh, m.account_id, m.encryption_public)
        wrapped = content_key if wraps_body_key else third
        parts += [m.account_id, m.encryption_public,
                  hpke.seal(m.encryption_public, info, wrapped, ephemeral=rng(32))]
    return resign(author, b"".join(parts))


def retired_type(sealed: bytes, author: keys.AccountKeys) -> bytes:
    """`sealed` in the retired type 0x10 layout (no key commitment), re-signed by its author."""
    unsigned = sealed[:-64]
    return resign(author, unsigned[:3] + b"\x10" + unsigned[4:113] + unsigned[145:])


def entry_negatives(
    sealed: bytes, author: keys.AccountKeys, accts: dict[str, keys.AccountKeys],
    members: list[keys.AccountKeys],
) -> list[dict[str, Any]]:
    env = envelope.parse_envelope(sealed)
    hl = len(env.header_bytes)  # 145: body_len, body and everything after start here
    body_end = hl + 4 + len(env.body)
    w0 = body_end + 2  # first wrap
    sig = len(sealed) - 64
    recips = {h(m.account_id): h(m.encryption_public) for m in members}
    verify_ctx = {
        "author_identity_key": h(author.identity_public),
        "booklet_id": h(BOOKLET),
        "author_id": h(author.account_id),
        "recipients": recips,
    }

    open_ctx = {k: verify_ctx[k] for k in ("author_identity_key", "booklet_id", "author_id")}

    def with_key(key: bytes) -> dict[str, Any]:
        """Context of a grantee's open with a key from a grant item (§5)."""
        return {**open_ctx, "entry_id": h(env.header.entry_id), "entry_hash": h(env.entry_hash),
                "content_key": h(key)}

    def ctx(**changes: Any) -> dict[str, Any]:
        return {**verify_ctx, **changes}

    def with_bytes(offset: int, value: bytes) -> bytes:
        return sealed[:offset] + value + sealed[offset + len(value) :]

    wraps = [sealed[w0 + 128 * i : w0 + 128 * (i + 1)] for i in range(len(env.wraps))]
    swapped = sealed[:w0] + wraps[1] + wraps[0] + b"".join(wraps[2:]) + sealed[sig:]
    dup = sealed[:w0] + wraps[0] + wraps[0] + b"".join(wraps[2:]) + sealed[sig:]
    # Swap the keys inside the first two wraps, keep ids, re-sign: only opening can notice.
    cross = (
        sealed[:w0] + wraps[0][:48] + wraps[1][48:] + wraps[1][:48] + wraps[0][48:]
        + b"".join(wraps[2:])
    )
    stranger = keys.AccountKeys.from_secrets(
        accts["guardian1"].account_id, accts["newcomer"].identity_seed,
        accts["newcomer"].encryption_secret,
    )
    impostor = keys.AccountKeys.from_secrets(
        author.account_id, accts["guardian1"].identity_seed, accts["guardian1"].encryption_secret
    )
    forged = envelope.seal_entry(
        impostor, booklet_id=BOOKLET, entry_id=b"\xee" * 16, kind=2, sequence=9,
        prev_hash=ZERO_HASH, created_at=CREATED, plaintext=b'{"kind":"note","text":"x"}',
        recipients=[(m.account_id, m.encryption_public) for m in members],
        rng=SeededRng(b"forged"),
    )
    g1 = accts["guardian1"]
    v = "verify"
    cases: list[tuple[str, str, bytes, dict[str, Any], str]] = [
        ("version", v, with_bytes(0, b"\x02"), ctx(), "unsupported-version"),
        ("suite", v, with_bytes(1, b"\x00\x02"), ctx(), "unsupported-suite"),
        ("type", v, with_bytes(3, b"\x12"), ctx(), "wrong-type"),
        ("legacy-type", v, retired_type(sealed, author), ctx(), "wrong-type"),
        ("booklet-id", v, flip(sealed, 4), ctx(), "bad-signature"),
        ("entry-id", v, flip(sealed, 20), ctx(), "bad-signature"),
        ("author-id", v, flip(sealed, 36), ctx(), "bad-signature"),
        ("kind-unknown", v, with_bytes(52, b"\x07"), ctx(), "unknown-kind"),
        ("kind-other", v, with_bytes(52, b"\x03"), ctx(), "bad-signature"),
        ("sequence", v, flip(sealed, 60), ctx(), "bad-signature"),
        ("sequence-zero", v, resign(author, with_bytes(53, bytes(8))[:sig]), ctx(), "malformed"),
        ("prev-hash", v, flip(sealed, 61), ctx(), "bad-signature"),
        ("created-at", v, flip(sealed, 100), ctx(), "bad-signature"),
        ("nonce", v, flip(sealed, 101), ctx(), "bad-signature"),
        ("key-commitment", v, flip(sealed, 113), ctx(), "bad-signature"),
        ("body-len-huge", v, flip(sealed, hl), ctx(), "malformed"),
        ("body-len-tiny", v, with_bytes(hl, b"\x00\x00\x00\x0f"), ctx(), "malformed"),
        ("body", v, flip(sealed, hl + 4), ctx(), "bad-signature"),
        ("body-tag", v, flip(sealed, body_end - 1), ctx(), "bad-signature"),
        ("wrap-count-zero", v, with_bytes(body_end, b"\x00\x00"), ctx(), "bad-recipient-count"),
        ("wrap-count-plus-one", v, flip(sealed, body_end + 1), ctx(), "truncated"),
        ("wrap-recipient-id", v, flip(sealed, w0 + 15), ctx(), "bad-signature"),
        ("wrap-recipient-ek", v, flip(sealed, w0 + 16), ctx(), "bad-signature"),
        ("wrap-enc", v, flip(sealed, w0 + 48), ctx(), "bad-signature"),
        ("wrap-key", v, flip(sealed, w0 + 80), ctx(), "bad-signature"),
        ("signature", v, flip(sealed, sig), ctx(), "bad-signature"),
        ("signature-last", v, flip(sealed, len(sealed) - 1), ctx(), "bad-signature"),
        ("reordered-recipients", v, swapped, ctx(), "recipients-not-canonical"),
        ("duplicate-recipient", v, dup, ctx(), "recipients-not-canonical"),
        ("truncated-1", v, sealed[:-1], ctx(), "truncated"),
        ("truncated-header", v, sealed[:50], ctx(), "truncated"),
        ("truncated-prefix", v, sealed[:3], ctx(), "truncated"),
        ("empty", v, b"", ctx(), "truncated"),
        ("trailing", v, sealed + b"\x00", ctx(), "trailing-data"),
        ("wrong-signer", v, sealed, ctx(author_identity_key=h(g1.identity_public)),
         "bad-signature"),
        ("wrong-author", v, forged,
         ctx(author_identity_key=h(impostor.identity_public), author_id=h(g1.account_id)),
         "wrong-author"),
        ("wrong-booklet", v, sealed, ctx(booklet_id="b1" * 16), "wrong-booklet"),
        ("recipient-missing-member", v, sealed,
         ctx(recipients={**recips, h(accts["newcomer"].account_id):
                         h(accts["newcomer"].encryption_public)}),
         "recipient-set-mismatch"),
        ("recipient-non-member", v, sealed,
         ctx(recipients={k: x for k, x in recips.items() if k != h(g1.account_id)}),
         "recipient-set-mismatch"),
        ("recipient-stale-key", v, sealed,
         ctx(recipients={**recips, h(g1.account_id): h(accts["newcomer"].encryption_public)}),
         "recipient-set-mismatch"),
        ("open-not-a-recipient", "open", sealed,
         {**open_ctx, "as": "newcomer"}, "not-a-recipient"),
        ("open-wrong-key", "open", sealed,
         {**open_ctx, "as": "guardian1",
          "as_keys": {"account_id": h(stranger.account_id),
                      "identity_seed": h(stranger.identity_seed),
                      "encryption_secret": h(stranger.encryption_secret)}},
         "not-a-recipient"),
        ("open-wrong-author-key", "open", sealed,
         {**open_ctx, "author_identity_key": h(g1.identity_public), "as": "guardian1"},
         "bad-signature"),
        ("open-wrong-booklet", "open", sealed,
         {**open_ctx, "booklet_id": "b1" * 16, "as": "guardian1"}, "wrong-booklet"),
        ("open-wrong-author", "open", forged,
         {**open_ctx, "author_identity_key": h(impostor.identity_public),
          "author_id": h(g1.account_id), "as": "guardian1"}, "wrong-author"),
        ("open-crossed-wraps", "open", resign(author, cross),
         {**open_ctx, "as": "therapist"}, "unwrap-failed"),
        ("open-body-resigned", "open", resign(author, flip(sealed, hl + 4)[:sig]),
         {**open_ctx, "as": "guardian1"}, "decrypt-failed"),
        ("open-legacy-type", "open", retired_type(sealed, author),
         {**open_ctx, "as": "guardian1"}, "wrong-type"),
        ("open-commitment-to-another-key", "open", miscommitted(author, members,
                                                                wraps_body_key=True),
         {**open_ctx, "as": "guardian1"}, "key-commitment-mismatch"),
        ("open-commitment-to-neither-key", "open", miscommitted(author, members,
                                                                wraps_body_key=False),
         {**open_ctx, "as": "guardian1"}, "key-commitment-mismatch"),
        ("open-with-key-wrong-key", "open-with-key", sealed, with_key(b"\x22" * 32),
         "key-commitment-mismatch"),
        ("open-with-key-short-key", "open-with-key", sealed, with_key(b"\x22" * 31),
         "malformed"),
        ("open-with-key-other-entry", "open-with-key", sealed,
         {**with_key(b"\x22" * 32), "entry_id": "e0" * 16}, "entry-hash-mismatch"),
        ("open-with-key-other-hash", "open-with-key", sealed,
         {**with_key(b"\x22" * 32), "entry_hash": "00" * 32}, "entry-hash-mismatch"),
        ("author-key-identity-point", v, sealed[:sig] + forged_under_identity_key(),
         ctx(author_identity_key=h(IDENTITY_POINT)), "invalid-key"),
        ("open-author-key-identity-point", "open", sealed[:sig] + forged_under_identity_key(),
         {**open_ctx, "author_identity_key": h(IDENTITY_POINT), "as": "guardian1"},
         "invalid-key"),
    ]
    return [
        {"name": f"entry/{name}", "object": "entry", "check": check, "data": h(data),
         "context": context, "error": error}
        for name, check, data, context, error in cases
    ]


def account_negatives(
    accts: dict[str, keys.AccountKeys], records: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    t, g1 = records["therapist"], records["guardian1"]
    st = bytes.fromhex(t["key_statement"])
    sealed = bytes.fromhex(t["sealed_bundle_password"])
    pinned = {"account_id": t["account_id"], "identity_key": t["identity_key"]}
    pw = {"kek": t["kek"], "purpose": keys.PURPOSE_PASSWORD}
    text = t["recovery_key"]
    typo = text[:5] + ("X" if text[5] != "X" else "Y") + text[6:]
    signed = labels.labelled(labels.KEY_STATEMENT, st[:92])
    seed = accts["therapist"].identity_seed
    forged_st = (st[:20] + IDENTITY_POINT + st[52:92]) + forged_under_identity_key()
    cases: list[tuple[str, str, str, Any, dict[str, Any], str]] = [
        ("statement/signature", "key-statement", "verify", h(flip(st, 100)), pinned,
         "bad-signature"),
        ("statement/identity-point-key", "key-statement", "verify", h(forged_st),
         {**pinned, "identity_key": h(IDENTITY_POINT)}, "invalid-key"),
        ("statement/signature-s-plus-l", "key-statement", "verify",
         h(st[:92] + s_plus_l(st[92:])), pinned, "bad-signature"),
        ("statement/signature-r-identity", "key-statement", "verify",
         h(st[:92] + signed_with_r(seed, IDENTITY_POINT, signed)), pinned, "bad-signature"),
        ("statement/signature-r-non-canonical", "key-statement", "verify",
         h(st[:92] + signed_with_r(seed, IDENTITY_NON_CANONICAL, signed)), pinned,
         "bad-signature"),
        ("statement/encryption-key", "key-statement", "verify", h(flip(st, 60)), pinned,
         "bad-signature"),
        ("statement/created-at", "key-statement", "verify", h(flip(st, 91)), pinned,
         "bad-signature"),
        ("statement/version", "key-statement", "verify", h(b"\x02" + st[1:]), pinned,
         "unsupported-version"),
        ("statement/truncated", "key-statement", "verify", h(st[:-1]), pinned, "truncated"),
        ("statement/trailing", "key-statement", "verify", h(st + b"\x00"), pinned,
         "trailing-data"),
        ("statement/changed-identity", "key-statement", "verify", g1["key_statement"],
         {"account_id": g1["account_id"], "identity_key": t["identity_key"]},
         "identity-key-changed"),
        ("statement/other-account", "key-statement", "verify", g1["key_statement"], pinned,
         "account-mismatch"),
        ("bundle/wrong-password", "sealed-bundle", "open", h(sealed),
         {"kek": g1["kek"], "purpose": keys.PURPOSE_PASSWORD}, "bundle-decrypt-failed"),
        ("bundle/wrong-purpose", "sealed-bundle", "open", h(sealed),
         {"kek": t["kek"], "purpose": keys.PURPOSE_RECOVERY}, "wrong-purpose"),
        ("bundle/nonce", "sealed-bundle", "open", h(flip(sealed, 25)), pw,
         "bundle-decrypt-failed"),
        ("bundle/account-id", "sealed-bundle", "open", h(flip(sealed, 4)), pw,
         "bundle-decrypt-failed"),
        ("bundle/ciphertext", "sealed-bundle", "open", h(flip(sealed, 60)), pw,
         "bundle-decrypt-failed"),
        ("bundle/ct-len", "sealed-bundle", "open", h(flip(sealed, 36)), pw, "malformed"),
        ("bundle/truncated", "sealed-bundle", "open", h(sealed[:-1]), pw, "truncated"),
        ("bundle/trailing", "sealed-bundle", "open", h(sealed + b"\x00"), pw, "trailing-data"),
        ("bundle/type", "sealed-bundle", "open", h(sealed[:3] + b"\x02" + sealed[4:]), pw,
         "wrong-type"),
        ("bundle/keys-of-another-account", "sealed-bundle", "open", t["sealed_bundle_password"],
         {**pw, "statement": g1["key_statement"]}, "bundle-key-mismatch"),
        ("recovery/typo", "recovery-key", "parse", typo, {}, "recovery-key-checksum"),
        ("recovery/short", "recovery-key", "parse", text[:-1], {}, "recovery-key-malformed"),
        ("recovery/bad-char", "recovery-key", "parse", "U" + text[1:], {},
         "recovery-key-malformed"),
        ("kdf/few-iterations", "kdf", "derive", {"password": "x", "salt": t["salt"],
         "iterations": 100_000}, {}, "weak-kdf-params"),
        ("kdf/short-salt", "kdf", "derive", {"password": "x", "salt": t["salt"][:16],
         "iterations": keys.PBKDF2_ITERATIONS}, {}, "weak-kdf-params"),
    ]
    return [
        {"name": name, "object": obj, "check": check, "data": data, "context": context,
         "error": error}
        for name, obj, check, data, context, error in cases
    ]


def grant_vectors(
    accts: dict[str, keys.AccountKeys], entries: list[tuple[bytes, dict[str, Any]]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    granter, newcomer = accts["guardian1"], accts["newcomer"]
    rng = _Recorder(b"secure-msg/v1/vectors/grant")
    items = []
    for sealed, rec in entries:
        author = accts[rec["author_name"]]
        opened = envelope.open_entry(
            sealed, author_identity_key=author.identity_public, author_id=author.account_id,
            booklet_id=BOOKLET, me=granter,
        )
        items.append((opened.header.entry_id, opened.entry_hash, opened.content_key))
    blob = grant.seal_grant(
        granter, booklet_id=BOOKLET, grantee_id=newcomer.account_id,
        grantee_ek=newcomer.encryption_public, created_at=CREATED + 100, keys=items, rng=rng,
    )
    hashes = {h(eid): h(ehash) for eid, ehash, _ in items}
    ctx = {
        "granter_identity_key": h(granter.identity_public), "booklet_id": h(BOOKLET),
        "granter_id": h(granter.account_id), "grantee_id": h(newcomer.account_id),
        "grantee_ek": h(newcomer.encryption_public), "entry_hashes": hashes,
    }
    record = {
        "granter": h(granter.account_id), "grantee": h(newcomer.account_id),
        "created_at": CREATED + 100, "ephemeral_secrets": [h(x) for x in rng.drawn],
        "items": [{"entry_id": h(e), "entry_hash": h(x), "content_key": h(k)}
                  for e, x, k in sorted(items)],
        "grant": h(blob), "context": ctx,
    }
    first_item = 96
    swapped = blob[:first_item] + blob[first_item + 128 : first_item + 256] + \
        blob[first_item : first_item + 128] + blob[first_item + 256 :]
    other = next(iter(hashes))
    cases = [
        ("signature", blob[:-1] + bytes([blob[-1] ^ 1]), ctx, "bad-signature"),
        ("item-key", flip(blob, first_item + 100), ctx, "bad-signature"),
        ("grantee-id", blob, {**ctx, "grantee_id": h(accts["caregiver"].account_id)},
         "wrong-grantee"),
        ("grantee-key", blob, {**ctx, "grantee_ek": h(accts["caregiver"].encryption_public)},
         "grantee-key-mismatch"),
        ("unknown-entry", blob, {**ctx, "entry_hashes": {k: x for k, x in hashes.items()
                                                           if k != other}}, "unknown-entry"),
        ("entry-hash", blob, {**ctx, "entry_hashes": {**hashes, other: "00" * 32}},
         "entry-hash-mismatch"),
        ("reordered-items", swapped, ctx, "items-not-canonical"),
        ("zero-items", blob[:92] + b"\x00\x00\x00\x00" + blob[-64:], ctx, "bad-item-count"),
        ("truncated", blob[:-1], ctx, "truncated"),
        ("trailing", blob + b"\x00", ctx, "trailing-data"),
        ("wrong-booklet", blob, {**ctx, "booklet_id": "b1" * 16}, "wrong-booklet"),
    ]
    negatives = [
        {"name": f"grant/{name}", "object": "grant", "check": "verify", "data": h(data),
         "context": context, "error": error}
        for name, data, context, error in cases
    ]
    return record, negatives + grantee_negatives(accts, blob)


def grantee_negatives(accts: dict[str, keys.AccountKeys], blob: bytes) -> list[dict[str, Any]]:
    """The grantee's open (§5): what its client reports for a bad grant."""
    granter, newcomer = accts["guardian1"], accts["newcomer"]
    first_wrapped = 96 + 80  # the first item's wrapped key

    def resigned(unsigned: bytes) -> bytes:
        return unsigned + sign(granter.identity, labels.GRANT_SIGNATURE, unsigned)

    other_keys = keys.AccountKeys.from_secrets(
        newcomer.account_id, accts["caregiver"].identity_seed,
        accts["caregiver"].encryption_secret,
    )
    ctx = {"granter_identity_key": h(granter.identity_public), "as": "newcomer"}
    cases = [
        ("truncated", blob[:-1], ctx, "truncated"),
        ("zero-items", blob[:92] + b"\x00\x00\x00\x00" + blob[-64:], ctx, "bad-item-count"),
        ("signature", flip(blob, len(blob) - 1), ctx, "bad-signature"),
        ("granter-key", blob,
         {**ctx, "granter_identity_key": h(accts["therapist"].identity_public)},
         "bad-signature"),
        ("granter-key-identity-point", blob[:-64] + forged_under_identity_key(),
         {**ctx, "granter_identity_key": h(IDENTITY_POINT)}, "invalid-key"),
        ("not-the-grantee", blob, {**ctx, "as": "caregiver"}, "wrong-grantee"),
        ("other-encryption-key", blob,
         {**ctx, "as_keys": {"account_id": h(other_keys.account_id),
                             "identity_seed": h(other_keys.identity_seed),
                             "encryption_secret": h(other_keys.encryption_secret)}},
         "grantee-key-mismatch"),
        ("item-key-resigned", resigned(flip(blob, first_wrapped)[:-64]), ctx, "unwrap-failed"),
    ]
    return [
        {"name": f"grant/open-{name}", "object": "grant", "check": "open", "data": h(data),
         "context": context, "error": error}
        for name, data, context, error in cases
    ]


def payload_vectors() -> list[dict[str, Any]]:
    """Plaintexts for check 11 of §4.4 and every rule of §4.5, with the payload a reader keeps
    (the kind and the fields of §4.5) or the error."""
    note = '"kind":"note","text":"x"'
    deep = "[" * 63 + "]" * 63
    big_int = "9" * 5000
    ok: list[tuple[str, str, str, dict[str, Any]]] = [
        ("note", "note", "{" + note + "}", {"kind": "note", "text": "x"}),
        ("unknown-members-left-out", "note",
         '{"text":"x","n":1e400,"i":' + big_int + ',"o":{"a":[true,null]},"kind":"note","z":-0}',
         {"kind": "note", "text": "x"}),
        ("whitespace", "note", ' \t\r\n{ "kind" : "note" ,\n "text" : "x" } \n',
         {"kind": "note", "text": "x"}),
        ("escapes", "note", '{"kind":"n\\u006fte","text":"\\u00e4\\ud83d\\ude00\\n\\"\\/"}',
         {"kind": "note", "text": "ä\U0001f600\n\"/"}),
        ("nested-64-deep", "note", '{' + note + ',"x":' + deep + '}',
         {"kind": "note", "text": "x"}),
        ("title", "title", '{"kind":"title","title":""}', {"kind": "title", "title": ""}),
        ("homework-without-text", "homework", '{"kind":"homework","task":"t","frequency":"f"}',
         {"kind": "homework", "task": "t", "frequency": "f"}),
        ("homework-with-text", "homework",
         '{"kind":"homework","task":"t","frequency":"f","text":"x"}',
         {"kind": "homework", "task": "t", "frequency": "f", "text": "x"}),
        ("homework-log-any-strings", "homework-log",
         '{"kind":"homework-log","homework":"not an id","done":false,"how":"","date":""}',
         {"kind": "homework-log", "homework": "not an id", "done": False, "how": "", "date": ""}),
        ("homework-log-date-not-checked", "homework-log",
         '{"kind":"homework-log","homework":"' + "e3" * 16 + '","done":true,"how":"h",'
         '"date":"2026-02-30"}',
         {"kind": "homework-log", "homework": "e3" * 16, "done": True, "how": "h",
          "date": "2026-02-30"}),
        ("document-data-not-checked", "document",
         '{"kind":"document","name":"a.pdf","media_type":"application/pdf","data":"not base64!"}',
         {"kind": "document", "name": "a.pdf", "media_type": "application/pdf",
          "data": "not base64!"}),
        ("system", "system", '{"kind":"system","text":"x"}', {"kind": "system", "text": "x"}),
    ]
    bad: list[tuple[str, str, bytes]] = [
        ("not-utf8", "note", b'{"kind":"note","text":"\xff"}'),
        ("encoded-surrogate", "note", b'{"kind":"note","text":"\xed\xa0\x80"}'),
        ("byte-order-mark", "note", b"\xef\xbb\xbf{" + note.encode() + b"}"),
        ("nan", "note", b'{' + note.encode() + b',"n":NaN}'),
        ("infinity", "note", b'{' + note.encode() + b',"n":-Infinity}'),
        ("not-an-object", "note", b'["note","x"]'),
        ("trailing-text", "note", b'{' + note.encode() + b'} x'),
        ("trailing-comma", "note", b'{' + note.encode() + b',}'),
        ("raw-control-character", "note", b'{"kind":"note","text":"a\x01"}'),
        ("kind-missing", "note", b'{"text":"x"}'),
        ("kind-of-another-header", "homework", b'{' + note.encode() + b'}'),
        ("field-missing", "note", b'{"kind":"note"}'),
        ("field-null", "note", b'{"kind":"note","text":null}'),
        ("field-a-number", "note", b'{"kind":"note","text":5}'),
        ("done-not-a-boolean", "homework-log",
         b'{"kind":"homework-log","homework":"h","done":1,"how":"","date":""}'),
        ("homework-text-not-a-string", "homework",
         b'{"kind":"homework","task":"t","frequency":"f","text":5}'),
        ("homework-text-null", "homework",
         b'{"kind":"homework","task":"t","frequency":"f","text":null}'),
        ("duplicate-member", "note", b'{"kind":"note","text":"x","text":"y"}'),
        ("duplicate-kind", "note", b'{"kind":"title","kind":"note","text":"x"}'),
        ("duplicate-member-escaped", "note", b'{"kind":"note","text":"x","t\\u0065xt":"y"}'),
        ("duplicate-member-nested", "note", b'{' + note.encode() + b',"o":[{"a":1,"a":1}]}'),
        ("nested-65-deep", "note", b'{' + note.encode() + b',"x":' + b"[" * 64 + b"]" * 64
         + b'}'),
        ("nested-1500-deep", "note", b"[" * 1500 + b"]" * 1500),
        ("lone-high-surrogate", "note", b'{"kind":"note","text":"a\\ud800b"}'),
        ("lone-low-surrogate", "note", b'{"kind":"note","text":"\\udc00"}'),
        ("reversed-surrogates", "note", b'{"kind":"note","text":"\\ude00\\ud83d"}'),
        ("lone-surrogate-in-unknown-name", "note", b'{' + note.encode() + b',"\\ud800":1}'),
    ]
    cases: list[dict[str, Any]] = [{"name": name, "kind": kind, "kind_id": KIND_IDS[kind],
              "plaintext": h(text.encode()), "payload": payload, "error": None}
             for name, kind, text, payload in ok]
    cases += [{"name": name, "kind": kind, "kind_id": KIND_IDS[kind], "plaintext": h(data),
               "payload": None, "error": "bad-payload"} for name, kind, data in bad]
    for case in cases:  # the generator's own reader agrees, or the file is not written
        try:
            got: Any = decode_payload(case["kind_id"], bytes.fromhex(case["plaintext"]))
        except ProtocolError as exc:
            got = exc.code
        assert got == (case["payload"] or case["error"]), (case["name"], got)
    return cases


def safety_vectors(records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    t, g1 = records["therapist"], records["guardian1"]
    pa = (bytes.fromhex(t["account_id"]), bytes.fromhex(t["identity_key"]))
    pb = (bytes.fromhex(g1["account_id"]), bytes.fromhex(g1["identity_key"]))
    qr = safety.QrPayload(pa[0], pa[1], pb[0], pb[1]).encode()
    return {
        "safety_numbers": [
            {"a": t["name"], "b": g1["name"], "number": safety.safety_number(pa, pb)},
            {"a": t["name"], "b": records["caregiver"]["name"],
             "number": safety.safety_number(pa, (bytes.fromhex(records["caregiver"]["account_id"]),
                                                 bytes.fromhex(records["caregiver"]["identity_key"])))},
        ],
        "qr_payloads": [{"shower": t["name"], "scanner": g1["name"], "payload": h(qr)}],
    }


def consent_vectors() -> dict[str, Any]:
    """Guardian consent records (§5.1): both guardians approve the caregiver, one withdraws; and
    one bad case for each check of the server's and a client's verify."""
    names = ["therapist", "guardian1", "guardian2", "caregiver"]
    accts = {n: keys.AccountKeys.generate(  # the keys make_account draws first, same seeds
        bytes([i]) * 16, SeededRng(b"secure-msg/v1/vectors/account/" + n.encode()))
        for i, n in enumerate(["therapist", "guardian1", "guardian2", "caregiver"], start=1)}
    care = accts["caregiver"]
    until = CREATED + 90 * 86_400_000

    def record(name: str, guardian: str, action: int, scope: int, at: int) -> dict[str, Any]:
        g = accts[guardian]
        blob = consent.seal_consent(
            g, action=action, booklet_id=BOOKLET, caregiver_id=care.account_id,
            caregiver_identity_key=care.identity_public, until=until, scope=scope,
            created_at=at)
        return {"name": name, "guardian": h(g.account_id), "action": action, "scope": scope,
                "until": until, "created_at": at, "caregiver_fingerprint":
                h(consent.key_fingerprint(care.identity_public)), "record": h(blob)}

    records = [
        record("approve-guardian1", "guardian1", consent.APPROVE, consent.SCOPE_NEW, CREATED + 1),
        record("approve-guardian2", "guardian2", consent.APPROVE, consent.SCOPE_NEW, CREATED + 2),
        record("withdraw-guardian1", "guardian1", consent.WITHDRAW, consent.SCOPE_NEW,
               CREATED + 3),
        record("approve-history", "guardian2", consent.APPROVE, consent.SCOPE_HISTORY,
               CREATED + 4),
    ]
    blob = bytes.fromhex(records[0]["record"])
    g1 = accts["guardian1"]
    ctx = {"guardian_identity_key": h(g1.identity_public), "action": consent.APPROVE,
           "booklet_id": h(BOOKLET), "guardian_id": h(g1.account_id),
           "caregiver_id": h(care.account_id), "caregiver_identity_key": h(care.identity_public),
           "until": until, "scope": consent.SCOPE_NEW}

    def resigned(unsigned: bytes) -> bytes:
        return unsigned + sign(g1.identity, labels.CONSENT_SIGNATURE, unsigned)

    unsigned = blob[: consent.SIGNED_LENGTH]
    cases = [
        ("signature", flip(blob, len(blob) - 1), ctx, "bad-signature"),
        ("field-flipped", flip(blob, 70), ctx, "bad-signature"),
        ("other-guardian-key", blob,
         {**ctx, "guardian_identity_key": h(accts["guardian2"].identity_public)},
         "bad-signature"),
        ("identity-point-key", blob[:-64] + forged_under_identity_key(),
         {**ctx, "guardian_identity_key": h(IDENTITY_POINT)}, "invalid-key"),
        ("withdrawal-as-approval", bytes.fromhex(records[2]["record"]), ctx, "wrong-action"),
        ("other-booklet", blob, {**ctx, "booklet_id": "b1" * 16}, "wrong-booklet"),
        ("other-guardian", bytes.fromhex(records[1]["record"]),
         {**ctx, "guardian_identity_key": h(accts["guardian2"].identity_public)},
         "wrong-author"),
        ("other-caregiver", blob, {**ctx, "caregiver_id": h(accts["therapist"].account_id)},
         "wrong-caregiver"),
        ("other-caregiver-key", blob,
         {**ctx, "caregiver_identity_key": h(accts["therapist"].identity_public)},
         "caregiver-key-mismatch"),
        ("other-until", blob, {**ctx, "until": until + 1}, "terms-mismatch"),
        ("other-scope", blob, {**ctx, "scope": consent.SCOPE_HISTORY}, "terms-mismatch"),
        ("action-zero", resigned(unsigned[:4] + b"\x00" + unsigned[5:]), ctx, "malformed"),
        ("scope-three", resigned(unsigned[:77] + b"\x03" + unsigned[78:]), ctx, "malformed"),
        ("truncated", blob[:-1], ctx, "truncated"),
        ("trailing", blob + b"\x00", ctx, "trailing-data"),
        ("grant-type", blob[:3] + bytes([labels.TYPE_GRANT]) + blob[4:], ctx, "wrong-type"),
        ("version-2", b"\x02" + blob[1:], ctx, "unsupported-version"),
    ]
    return {
        "protocol": "secure-msg", "version": 1, "suite": 1,
        "generator": "tools/gen_vectors.py",
        "description": "Guardian consent records (docs/protocol.md §5.1). Byte strings are "
        "lowercase hex; times are ms since the epoch. Signatures are deterministic Ed25519 but "
        "must be verified, never compared.",
        "booklet_id": h(BOOKLET),
        "accounts": [{"name": n, "account_id": h(accts[n].account_id),
                      "identity_seed": h(accts[n].identity_seed),
                      "encryption_secret": h(accts[n].encryption_secret),
                      "identity_key": h(accts[n].identity_public)} for n in names],
        "caregiver": h(care.account_id),
        "records": records,
        "negative": [{"name": f"consent/{n}", "object": "consent", "check": "verify",
                      "data": h(d), "context": c, "error": e} for n, d, c, e in cases],
    }


def build() -> dict[str, Any]:
    names = ["therapist", "guardian1", "guardian2", "caregiver", "newcomer"]
    accts: dict[str, keys.AccountKeys] = {}
    records: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names, start=1):
        accts[name], records[name] = make_account(name, i)
    members = [accts[n] for n in names[:4]]
    plan: list[tuple[str, str, str, dict[str, Any]]] = [
        ("title", "therapist", "title", {"title": "Aino \u2014 toimintaterapia 2026"}),
        ("note", "therapist", "note", {"text": "Tänään harjoittelimme saksilla leikkaamista."}),
        ("homework", "therapist", "homework",
         {"task": "Pyöräily pihalla", "frequency": "3 times a week", "text": "10 min"}),
        ("homework-log", "guardian1", "homework-log",
         {"homework": "e3" * 16, "done": True, "how": "Meni hyvin! 🚲", "date": "2026-11-20"}),
        ("note-from-caregiver", "caregiver", "note", {"text": "Päiväkodissa sujui hyvin."}),
    ]

    entries: list[tuple[bytes, dict[str, Any]]] = []
    prev = ZERO_HASH
    for seq, (name, author, kind, fields) in enumerate(plan, start=1):
        sealed, rec = make_entry(name, accts[author], members, kind, seq, prev,
                                 encode_payload(kind, **fields))
        rec["author_name"] = author
        entries.append((sealed, rec))
        prev = bytes.fromhex(rec["entry_hash"])
    grant_record, grant_negs = grant_vectors(accts, entries[:3])
    recovery_texts = [
        {"text": records["therapist"]["recovery_key"].lower().replace("-", " "),
         "secret": records["therapist"]["recovery_secret"]},
        {"text": records["therapist"]["recovery_key"].replace("1", "l").replace("0", "O"),
         "secret": records["therapist"]["recovery_secret"]},
    ]
    return {
        "protocol": "secure-msg",
        "version": 1,
        "suite": 1,
        "generator": "tools/gen_vectors.py",
        "description": (
            "Vectors of docs/protocol.md (§8). Every byte string is lowercase hex. "
            "ephemeral_secrets: HPKE ephemeral X25519 private keys skE, 32 raw bytes used as "
            "they are (an RFC 7748 scalar, clamped by X25519; not RFC 9180 DeriveKeyPair "
            "input), so enc = X25519(skE, 9); one per wrap in ascending recipient_id order "
            "(entries), one per item in ascending entry_id order (grant). An entry's random "
            "inputs are drawn as content_key, nonce, then the ephemerals."
        ),
        "booklet_id": h(BOOKLET),
        "accounts": list(records.values()),
        "members": [h(m.account_id) for m in members],
        "entries": [rec for _, rec in entries],
        "grant": grant_record,
        **safety_vectors(records),
        "recovery_keys": recovery_texts,
        "payloads": payload_vectors(),
        "negative": (
            entry_negatives(entries[1][0], accts["therapist"], accts, members)
            + account_negatives(accts, records)
            + grant_negs
        ),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def render_consent() -> str:
    return json.dumps(consent_vectors(), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    outputs = {OUT: render(), OUT_CONSENT: render_consent()}
    if "--check" in sys.argv:
        return 0 if all(p.read_text(encoding="utf-8") == t for p, t in outputs.items()) else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
