"""Generate tests/vectors/share-v1.json: the share of docs/protocol.md §4.8 (a file's record
sealed for someone outside the booklet under a key from a link secret and an SMS code), which
the Python client and the recipient's page both run.

Keys, tokens and sealed shares are computed here from the spec with the primitives (HKDF,
SHA-256, AES-256-GCM), not with crypto/share.py; inputs come from fixed seeds. Expected error
codes are written by hand. Running the script twice gives the same bytes
(tests/crypto/test_share_vectors.py checks it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secure_msg.crypto.rng import SeededRng

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "share-v1.json"
SEED = "secure-msg/v1/vectors/share/"


def drawn(what: str, n: int) -> bytes:
    return SeededRng(f"{SEED}{what}".encode())(n)


def hkdf(ikm: bytes, label: str, share_id: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None,
                info=label.encode() + b"\x00" + share_id).derive(ikm)


def keys(share_id: bytes, secret: bytes, code: str) -> dict[str, bytes]:
    ikm = secret + code.encode()
    token = hkdf(ikm, "secure-msg/v1/share-access", share_id)
    return {"key": hkdf(ikm, "secure-msg/v1/share-key", share_id), "token": token,
            "verifier": hashlib.sha256(b"secure-msg/v1/share-verifier\x00" + token).digest()}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def record(booklet: bytes, name: str, media_type: str, size: int, n: int) -> dict[str, Any]:
    return {"booklet_id": booklet.hex(), "blob_id": drawn(f"blob{n}", 16).hex(),
            "file_id": drawn(f"file{n}", 16).hex(), "key": drawn(f"fkey{n}", 32).hex(),
            "name": name, "media_type": media_type, "size": size,
            "sha256": drawn(f"hash{n}", 32).hex()}


def plaintext(rec: dict[str, Any]) -> bytes:
    return json.dumps(rec, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def seal(k: bytes, share_id: bytes, nonce: bytes, plain: bytes) -> bytes:
    head = b"\x01\x00\x01\x51" + share_id
    return head + nonce + AESGCM(k).encrypt(nonce, plain, head)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def main() -> None:
    cases: list[dict[str, Any]] = []
    specs = [
        ("statement.pdf", "application/pdf", 48213, "04812273"),
        ("Lausunto – Äijälä.pdf", "application/pdf", 1, "00000000"),
        ("photo.jpg", "image/jpeg", 0, "99999999"),
    ]
    for n, (name, mt, size, code) in enumerate(specs):
        share_id, secret, nonce = drawn(f"id{n}", 16), drawn(f"secret{n}", 16), drawn(f"n{n}", 12)
        booklet = drawn(f"booklet{n}", 16)
        rec = record(booklet, name, mt, size, n)
        k = keys(share_id, secret, code)
        plain = plaintext(rec)
        cases.append({
            "share_id": share_id.hex(), "link_secret": secret.hex(), "code": code,
            "fragment": f"{share_id.hex()}.{b64(secret)}",
            "key": k["key"].hex(), "token": k["token"].hex(), "verifier": k["verifier"].hex(),
            "nonce": nonce.hex(), "record": rec, "plaintext": plain.hex(),
            "sealed": seal(k["key"], share_id, nonce, plain).hex(),
        })
    base = cases[0]
    sid, sealed = bytes.fromhex(base["share_id"]), bytes.fromhex(base["sealed"])
    negative = [
        {"name": "wrong code", "code": "04812274", "sealed": sealed.hex(),
         "error": "share-decrypt-failed"},
        {"name": "the other share's sealed bytes", "code": base["code"],
         "sealed": cases[1]["sealed"], "error": "share-decrypt-failed"},
        {"name": "share id in the header changed", "code": base["code"],
         "sealed": flip(sealed, 4).hex(), "error": "share-decrypt-failed"},
        {"name": "flipped nonce", "code": base["code"], "sealed": flip(sealed, 20).hex(),
         "error": "share-decrypt-failed"},
        {"name": "flipped ciphertext", "code": base["code"], "sealed": flip(sealed, 40).hex(),
         "error": "share-decrypt-failed"},
        {"name": "flipped tag", "code": base["code"], "sealed": flip(sealed, len(sealed) - 1).hex(),
         "error": "share-decrypt-failed"},
        {"name": "truncated", "code": base["code"], "sealed": sealed[:47].hex(),
         "error": "truncated"},
        {"name": "version 2", "code": base["code"], "sealed": ("02" + sealed.hex()[2:]),
         "error": "unsupported-version"},
        {"name": "suite 2", "code": base["code"], "sealed": ("010002" + sealed.hex()[6:]),
         "error": "unsupported-suite"},
        {"name": "file blob type", "code": base["code"], "sealed": ("01000150" + sealed.hex()[8:]),
         "error": "wrong-type"},
        {"name": "too long", "code": base["code"], "sealed": (sealed + bytes(4097)).hex(),
         "error": "malformed"},
        {"name": "code of 7 digits", "code": "0481227", "sealed": sealed.hex(),
         "error": "share-code-malformed"},
        {"name": "code with a letter", "code": "0481227O", "sealed": sealed.hex(),
         "error": "share-code-malformed"},
        {"name": "code in other digits", "code": "０４８１２２７３", "sealed": sealed.hex(),
         "error": "share-code-malformed"},
    ]
    # A record sealed correctly around a bad payload.
    k0 = keys(sid, bytes.fromhex(base["link_secret"]), base["code"])
    bad_records = [
        ("not JSON", b"{", "bad-payload"),
        ("an array", b"[]", "bad-payload"),
        ("no booklet_id", plaintext({k: v for k, v in base["record"].items()
                                     if k != "booklet_id"}), "bad-payload"),
        ("key too short", plaintext({**base["record"], "key": "00" * 31}), "bad-payload"),
        ("negative size", plaintext({**base["record"], "size": -1}), "bad-payload"),
    ]
    for name, plain, error in bad_records:
        negative.append({"name": f"record: {name}", "code": base["code"],
                         "sealed": seal(k0["key"], sid, bytes(12), plain).hex(),
                         "error": error})
    codes_typed = [
        {"typed": "0481 2273", "code": "04812273"},
        {"typed": "0481-2273", "code": "04812273"},
        {"typed": " 04812273\n", "code": "04812273"},
    ]
    fragments_bad = [
        base["fragment"].upper(),  # hex must be lower case
        base["fragment"][:-1],  # 21 characters of secret
        base["fragment"] + "A",
        base["fragment"].replace(".", ":"),
        base["fragment"][:-1] + "B",  # last character not canonical (low bits set)
        base["share_id"],
    ]
    # new_code draws 4 bytes at a time, big-endian, and keeps the first below 42·10^8.
    draws = [
        {"bytes": "fa56ea00" + "00bc614e", "code": "12345678"},  # first rejected
        {"bytes": "00000000", "code": "00000000"},
        {"bytes": "fa56e9ff", "code": "99999999"},  # 42·10^8 - 1
    ]
    out = {"description": "docs/protocol.md §4.8 shares; see tests/vectors/README.md",
           "shares": cases, "negative": negative, "codes_typed": codes_typed,
           "fragments_bad": fragments_bad, "code_draws": draws}
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == text else 1)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
