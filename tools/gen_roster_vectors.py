"""Generate tests/vectors/roster-v1.json: the signed roster (docs/protocol.md §6.6), invitation
records, join proofs, the link's fragment and a history grant to an invitation key (§6.7).

Rosters, records and proofs are laid out here from the spec with `struct` and signed with
`cryptography`'s Ed25519, not with crypto/roster.py, so the tests check the implementation
against this text. The grant and its entries are sealed with the protocol library (their own
vectors are in protocol-v1.json). Keys come from fixed seeds; every expected error is written by
hand from the spec. Running it twice gives the same bytes (tests/crypto/test_roster_vectors.py
checks it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from secure_msg.crypto import envelope, grant, keys
from secure_msg.crypto.envelope import ZERO_HASH
from secure_msg.crypto.payloads import encode_payload
from secure_msg.crypto.rng import SeededRng

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "roster-v1.json"
SEED = "secure-msg/v1/vectors/roster/"
BOOKLET = bytes.fromhex("b0" * 16)
OTHER_BOOKLET = bytes.fromhex("b1" * 16)
CREATED = 1_795_000_000_000
ROLE = {"therapist": 1, "guardian": 2, "caregiver": 3}
IDENTITY_POINT = bytes([1]) + bytes(31)  # small order: never an identity key


def drawn(what: str, n: int) -> bytes:
    return SeededRng(f"{SEED}{what}".encode())(n)


def ed_public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def x_public(secret: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def signed(seed: bytes, label: str, unsigned: bytes) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return unsigned + key.sign(label.encode() + b"\x00" + unsigned)


def hkdf(ikm: bytes, label: str) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=label.encode() + b"\x00").derive(ikm)


class Person:
    def __init__(self, name: str, index: int, role: str) -> None:
        self.name, self.role = name, role
        self.account_id = bytes([index]) * 16
        self.seed = drawn(f"identity/{name}", 32)
        self.enc = drawn(f"encryption/{name}", 32)
        self.ik = ed_public(self.seed)
        self.ek = x_public(self.enc)

    def keys(self) -> keys.AccountKeys:
        return keys.AccountKeys.from_secrets(self.account_id, self.seed, self.enc)

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "account_id": self.account_id.hex(),
                "identity_seed": self.seed.hex(), "identity_key": self.ik.hex(),
                "encryption_secret": self.enc.hex(), "encryption_key": self.ek.hex()}


T = Person("therapist", 0x10, "therapist")
G = Person("guardian", 0x20, "guardian")
C = Person("caregiver", 0x30, "caregiver")
X = Person("outsider", 0x40, "guardian")


def member(p: Person, *, role: str | None = None, until: int = 0, ik: bytes | None = None
           ) -> bytes:
    return p.account_id + (ik or p.ik) + bytes([ROLE[role or p.role]]) + struct.pack(">Q", until)


def roster_unsigned(members: list[bytes], *, version: int = 1, booklet: bytes = BOOKLET,
                    therapist: bytes = T.account_id, created_at: int = CREATED,
                    count: int | None = None, type_byte: int = 0x60) -> bytes:
    return (struct.pack(">BHB", 1, 1, type_byte) + booklet + therapist
            + struct.pack(">QQH", version, created_at, len(members) if count is None else count)
            + b"".join(members))


def roster(members: list[bytes], *, signer: Person = T, **kw: Any) -> bytes:
    return signed(signer.seed, "secure-msg/v1/roster-signature", roster_unsigned(members, **kw))


def context(**over: Any) -> dict[str, Any]:
    base = {"therapist_identity_key": T.ik.hex(), "booklet_id": BOOKLET.hex(),
            "therapist_id": T.account_id.hex(), "highest_seen": 0}
    return {**base, **over}


# -- invitations ---------------------------------------------------------------------------------


class Invite:
    def __init__(self, name: str, role: str, created_at: int) -> None:
        self.name, self.role, self.created_at = name, role, created_at
        self.secret = drawn(f"invitation-secret/{name}", 32)
        self.seed = hkdf(self.secret, "secure-msg/v1/invitation-identity")
        self.enc = hkdf(self.secret, "secure-msg/v1/invitation-encryption")
        self.ik, self.ek = ed_public(self.seed), x_public(self.enc)
        self.id = hashlib.sha256(b"secure-msg/v1/invitation-id\x00" + self.ik).digest()[:16]

    def record(self, *, booklet: bytes = BOOKLET, signer: Person = T, role: int | None = None,
               ik: bytes | None = None) -> bytes:
        unsigned = (bytes.fromhex("01000161") + booklet + T.account_id + (ik or self.ik)
                    + self.ek + bytes([ROLE[self.role] if role is None else role])
                    + struct.pack(">Q", self.created_at))
        return signed(signer.seed, "secure-msg/v1/invitation-signature", unsigned)

    def proof(self, p: Person, *, booklet: bytes = BOOKLET, seed: bytes | None = None,
              ik: bytes | None = None) -> bytes:
        unsigned = (bytes.fromhex("01000162") + booklet + (ik or self.ik) + p.account_id + p.ik)
        return signed(seed or self.seed, "secure-msg/v1/join-proof-signature", unsigned)

    def keys(self) -> keys.AccountKeys:
        return keys.AccountKeys.from_secrets(self.id, self.seed, self.enc)

    def fragment(self, via: str) -> str:
        fp = hashlib.sha256(b"secure-msg/v1/fingerprint\x00" + T.ik).digest()[:16].hex()
        secret = base64.urlsafe_b64encode(self.secret).rstrip(b"=").decode()
        return f"i={secret}&f={fp}&via={via}"

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "secret": self.secret.hex(), "identity_seed": self.seed.hex(),
                "encryption_secret": self.enc.hex(), "invitation_ik": self.ik.hex(),
                "invitation_ek": self.ek.hex(), "invitation_id": self.id.hex(),
                "role": self.role, "created_at": self.created_at,
                "record": self.record().hex(), "fragment_qr": self.fragment("qr"),
                "fragment_link": self.fragment("link")}


def flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1:]


def roster_sections() -> dict[str, Any]:
    ordered = sorted([T, G, C], key=lambda p: p.account_id)
    full = [member(p) for p in ordered]
    base = roster(full, version=3)
    rosters: list[dict[str, Any]] = [
        {"name": "therapist-only", "version": 1, "members": [T]},
        {"name": "three-members", "version": 3, "members": ordered},
        {"name": "caregiver-until", "version": 4, "members": ordered, "until": {"caregiver":
                                                                              CREATED + 1000}},
    ]
    roster_cases = []
    for case in rosters:
        until = case.get("until", {})
        ms = [{"account_id": p.account_id.hex(), "identity_key": p.ik.hex(), "role": p.role,
               "until": until.get(p.name, 0)} for p in case["members"]]
        blob = roster([member(p, until=until.get(p.name, 0)) for p in case["members"]],
                      version=case["version"])
        roster_cases.append({"name": case["name"], "booklet_id": BOOKLET.hex(),
                             "therapist_id": T.account_id.hex(), "version": case["version"],
                             "created_at": CREATED, "members": ms, "signed_part": blob[:-64].hex(),
                             "roster": blob.hex()})

    neg: list[dict[str, Any]] = []

    def bad(name: str, blob: bytes, error: str, **ctx: Any) -> None:
        neg.append({"name": name, "roster": blob.hex(), "context": context(**ctx),
                    "error": error})

    bad("truncated-prefix", base[:3], "truncated")
    bad("truncated", base[:-1], "truncated")
    bad("trailing-data", base + b"\x00", "trailing-data")
    bad("unsupported-version", b"\x02" + base[1:], "unsupported-version")
    bad("unsupported-suite", base[:1] + b"\x00\x02" + base[3:], "unsupported-suite")
    bad("wrong-type", roster(full, version=3, type_byte=0x61), "wrong-type")
    bad("version-zero", roster(full, version=0), "malformed")
    bad("version-above-2^53-1", roster(full, version=2**53), "malformed")
    bad("no-members", roster([], count=0), "bad-member-count")
    bad("count-above-1024", roster_unsigned([], count=1025), "bad-member-count")
    bad("role-byte-4", roster([full[0][:48] + b"\x04" + full[0][49:], *full[1:]], version=3),
        "malformed")
    bad("members-not-canonical", roster([full[1], full[0], full[2]], version=3),
        "members-not-canonical")
    bad("member-repeated", roster([full[0], full[0], full[1], full[2]], version=3),
        "members-not-canonical")
    bad("two-therapists", roster([member(T), member(G, role="therapist"), member(C)],
                                 version=3), "malformed")
    bad("no-therapist", roster([member(G), member(C)], version=3), "malformed")
    bad("signer-not-its-therapist", roster(full, version=3, therapist=G.account_id), "malformed")
    bad("signature-flipped", flip(base, len(base) - 1), "bad-signature")
    bad("member-key-flipped", flip(base, 54 + 57 + 20), "bad-signature")
    bad("signed-by-guardian", roster(full, version=3, signer=G), "bad-signature")
    bad("pinned-key-small-order", base, "invalid-key",
        therapist_identity_key=IDENTITY_POINT.hex())
    bad("other-booklet", roster(full, version=3, booklet=OTHER_BOOKLET), "wrong-booklet")
    bad("other-therapist-expected", base, "wrong-author", therapist_id=G.account_id.hex())
    bad("therapist-entry-other-key", roster([member(T, ik=G.ik), full[1], full[2]], version=3),
        "roster-key-mismatch")
    bad("rolled-back", base, "roster-rolled-back", highest_seen=4)
    neg.append({"name": "same-version-again", "roster": base.hex(),
                "context": context(highest_seen=3), "error": None})

    # Members as the server lists them, against three-members (version 3) and caregiver-until.
    checks: list[dict[str, Any]] = []

    def check(name: str, roster_name: str, p: Person, error: str | None, *,
              ik: bytes | None = None, role: str | None = None, now: int = CREATED) -> None:
        checks.append({"name": name, "roster": roster_name, "account_id": p.account_id.hex(),
                       "identity_key": (ik or p.ik).hex(), "role": role or p.role, "now": now,
                       "error": error})

    check("guardian", "three-members", G, None)
    check("therapist", "three-members", T, None)
    check("outsider", "three-members", X, "not-in-roster")
    check("guardian-other-key", "three-members", G, "roster-key-mismatch", ik=X.ik)
    check("guardian-listed-as-caregiver", "three-members", G, "roster-role-mismatch",
          role="caregiver")
    check("guardian-listed-as-therapist", "three-members", G, "roster-role-mismatch",
          role="therapist")
    check("caregiver-before-until", "caregiver-until", C, None, now=CREATED + 999)
    check("caregiver-at-until", "caregiver-until", C, "roster-expired", now=CREATED + 1000)
    check("guardian-no-end", "caregiver-until", G, None, now=CREATED + 10**9)

    return {"rosters": roster_cases, "roster_negative": neg, "member_checks": checks}


INV_G = Invite("guardian", "guardian", CREATED + 5000)
INV_C = Invite("caregiver", "caregiver", CREATED + 6000)


def invitation_sections() -> dict[str, Any]:
    inv_g, inv_c = INV_G, INV_C
    invitations = [inv_g.json(), inv_c.json()]
    inv_ctx = {"therapist_identity_key": T.ik.hex(), "booklet_id": BOOKLET.hex(),
               "therapist_id": T.account_id.hex()}
    rec = inv_g.record()
    inv_neg: list[dict[str, Any]] = [
        {"name": "truncated", "record": rec[:-1].hex(), "error": "truncated"},
        {"name": "trailing-data", "record": (rec + b"\x00").hex(), "error": "trailing-data"},
        {"name": "wrong-type", "record": (rec[:3] + b"\x60" + rec[4:]).hex(),
         "error": "wrong-type"},
        {"name": "role-therapist", "record": inv_g.record(role=1).hex(), "error": "malformed"},
        {"name": "role-byte-0", "record": inv_g.record(role=0).hex(), "error": "malformed"},
        {"name": "signature-flipped", "record": flip(rec, 140).hex(), "error": "bad-signature"},
        {"name": "signed-by-guardian", "record": inv_g.record(signer=G).hex(),
         "error": "bad-signature"},
        {"name": "other-booklet", "record": inv_g.record(booklet=OTHER_BOOKLET).hex(),
         "error": "wrong-booklet"},
        {"name": "invitation-key-small-order",
         "record": inv_g.record(ik=IDENTITY_POINT).hex(), "error": "invalid-key"},
    ]
    for case in inv_neg:
        case["context"] = inv_ctx
    inv_neg.append({"name": "other-therapist-expected", "record": rec.hex(),
                    "context": {**inv_ctx, "therapist_id": G.account_id.hex()},
                    "error": "wrong-author"})
    # The joiner's check of the record against her secret.
    mismatch = [{"name": "other-invitation-secret", "record": inv_c.record().hex(),
                 "secret": inv_g.secret.hex(), "error": "invitation-mismatch"},
                {"name": "own-secret", "record": rec.hex(), "secret": inv_g.secret.hex(),
                 "error": None}]

    proof = inv_g.proof(G)
    proofs = [{"name": "guardian", "invitation": "guardian", "proof": proof.hex(),
               "member_id": G.account_id.hex(), "member_ik": G.ik.hex()},
              {"name": "caregiver", "invitation": "caregiver", "proof": inv_c.proof(C).hex(),
               "member_id": C.account_id.hex(), "member_ik": C.ik.hex()}]
    proof_neg = [
        {"name": "truncated", "proof": proof[:-1].hex(), "error": "truncated"},
        {"name": "trailing-data", "proof": (proof + b"\x00").hex(), "error": "trailing-data"},
        {"name": "other-invitation", "proof": inv_c.proof(G).hex(),
         "error": "invitation-mismatch"},
        {"name": "signature-flipped", "proof": flip(proof, 120).hex(), "error": "bad-signature"},
        {"name": "signed-by-the-member", "proof": inv_g.proof(G, seed=G.seed).hex(),
         "error": "bad-signature"},
        {"name": "other-booklet", "proof": inv_g.proof(G, booklet=OTHER_BOOKLET).hex(),
         "error": "wrong-booklet"},
        {"name": "for-another-account", "proof": inv_g.proof(X).hex(),
         "error": "account-mismatch"},
    ]
    for case in proof_neg:
        case |= {"invitation": "guardian", "member_id": G.account_id.hex(),
                 "member_ik": G.ik.hex()}
    proof_neg.append({"name": "member-other-key", "invitation": "guardian", "proof": proof.hex(),
                      "member_id": G.account_id.hex(), "member_ik": X.ik.hex(),
                      "error": "roster-key-mismatch"})

    return {"invitations": invitations, "invitation_negative": inv_neg,
            "invitation_secret_checks": mismatch, "join_proofs": proofs,
            "join_proof_negative": proof_neg}


def invitation_grant_section() -> dict[str, Any]:
    """A booklet's first two entries by the therapist, and the grant of both to the invitation."""
    inv_g = INV_G
    rng = SeededRng(f"{SEED}entries".encode())
    tk = T.keys()
    title_plain = encode_payload("title", title="Eetun vihko")
    note_plain = encode_payload("note", text="Ensimmäinen tapaaminen sovittu.")
    e1_id, e2_id = drawn("entry-id/1", 16), drawn("entry-id/2", 16)
    e1 = envelope.seal_entry(tk, booklet_id=BOOKLET, entry_id=e1_id, kind=1, sequence=1,
                             prev_hash=ZERO_HASH, created_at=CREATED, plaintext=title_plain,
                             recipients=[(T.account_id, T.ek)], rng=rng)
    h1 = envelope.entry_hash(e1)
    e2 = envelope.seal_entry(tk, booklet_id=BOOKLET, entry_id=e2_id, kind=2, sequence=2,
                             prev_hash=h1, created_at=CREATED + 1, plaintext=note_plain,
                             recipients=[(T.account_id, T.ek)], rng=rng)
    h2 = envelope.entry_hash(e2)
    k1 = envelope.open_entry(e1, author_identity_key=T.ik, author_id=T.account_id,
                             booklet_id=BOOKLET, me=tk).content_key
    k2 = envelope.open_entry(e2, author_identity_key=T.ik, author_id=T.account_id,
                             booklet_id=BOOKLET, me=tk).content_key
    items = sorted([(e1_id, h1, k1), (e2_id, h2, k2)])
    eph = [drawn(f"grant-ephemeral/{i}", 32) for i in range(len(items))]
    it = iter(eph)
    g_blob = grant.seal_grant(tk, booklet_id=BOOKLET, grantee_id=inv_g.id,
                              grantee_ek=inv_g.ek, created_at=CREATED + 5001, keys=items,
                              rng=lambda n: next(it))
    return {
        "invitation": "guardian", "grant": g_blob.hex(),
        "ephemeral_secrets": [e.hex() for e in eph],
        "entries": [{"entry_id": e1_id.hex(), "envelope": e1.hex(), "entry_hash": h1.hex(),
                     "content_key": k1.hex(), "plaintext": title_plain.hex(), "kind": "title"},
                    {"entry_id": e2_id.hex(), "envelope": e2.hex(), "entry_hash": h2.hex(),
                     "content_key": k2.hex(), "plaintext": note_plain.hex(), "kind": "note"}],
    }



def fragments_section() -> list[dict[str, Any]]:
    inv_g = INV_G
    good = inv_g.fragment("qr")
    secret_text = good.split("&")[0][2:]
    fp = good.split("&")[1][2:]
    fragments = [
        {"text": good, "secret": inv_g.secret.hex(), "fingerprint": fp, "via": "qr"},
        {"text": "#" + inv_g.fragment("link"), "secret": inv_g.secret.hex(), "fingerprint": fp,
         "via": "link"},
        {"text": f"via=qr&f={fp}&i={secret_text}", "secret": inv_g.secret.hex(),
         "fingerprint": fp, "via": "qr"},
    ]
    for text in [f"i={secret_text}&f={fp}", f"i={secret_text}&f={fp}&via=sms",
                 f"i={secret_text}&f={fp}&via=qr&x=1",
                 f"i={secret_text}&i={secret_text}&f={fp}&via=qr",
                 f"i={secret_text}=&f={fp}&via=qr", f"i={secret_text[:-1]}&f={fp}&via=qr",
                 f"i={secret_text[:-1]}+&f={fp}&via=qr",
                 f"i={secret_text}&f={fp.upper()}&via=qr",
                 f"i={secret_text}&f={fp[:-1]}&via=qr", f"i={secret_text}&f&via=qr", ""]:
        fragments.append({"text": text, "error": "malformed"})
    return fragments


def main() -> None:
    doc = {
        "description": "Signed rosters (§6.6), invitation records, join proofs, fragments and "
                       "a grant to an invitation key (§6.7). Made by tools/gen_roster_vectors.py.",
        "booklet_id": BOOKLET.hex(),
        "people": [p.json() for p in (T, G, C, X)],
        **roster_sections(),
        **invitation_sections(),
        "invitation_grant": invitation_grant_section(),
        "fragments": fragments_section(),
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
