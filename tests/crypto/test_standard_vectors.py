"""The primitives and the HPKE wrapper against RFC 9180 and Project Wycheproof."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secure_msg.crypto import hpke, primitives
from secure_msg.crypto.errors import ProtocolError

Loader = Callable[[str], Any]


def _base_gcm(standard: Loader) -> list[dict[str, Any]]:
    return [t for t in standard("rfc9180-hpke-x25519.json")
            if t["mode"] == 0 and t["aead_id"] == 2]


def test_rfc9180_base_mode_encryptions_and_exports(standard: Loader) -> None:
    """The key schedule reproduces every RFC 9180 base-mode encryption and export exactly."""
    cases = _base_gcm(standard)
    assert cases, "no base-mode AES-256-GCM vectors found"
    for t in cases:
        h = bytes.fromhex
        enc, sender = hpke.setup_sender(h(t["pkRm"]), h(t["info"]), h(t["skEm"]))
        receiver = hpke.setup_receiver(
            enc, X25519PrivateKey.from_private_bytes(h(t["skRm"])), h(t["info"])
        )
        assert enc == h(t["enc"])
        assert (sender.key, sender.base_nonce) == (h(t["key"]), h(t["base_nonce"]))
        for e in t["encryptions"]:
            assert sender.seal(h(e["pt"]), h(e["aad"])) == h(e["ct"])
            assert receiver.open(h(e["ct"]), h(e["aad"])) == h(e["pt"])
        for x in t["exports"]:
            assert sender.export(h(x["exporter_context"]), x["L"]) == h(x["exported_value"])


def test_single_shot_seal_matches_library_suite_both_ways() -> None:
    """The vector path and cryptography's hpke.Suite open each other's single-shot seals."""
    sk = X25519PrivateKey.generate()
    pk = sk.public_key().public_bytes_raw()
    eph = X25519PrivateKey.generate().private_bytes_raw()
    deterministic = hpke.seal(pk, b"info", b"k" * 32, ephemeral=eph)
    assert hpke.open_(sk, b"info", deterministic) == b"k" * 32
    random_path = hpke.seal(pk, b"info", b"k" * 32)
    ctx = hpke.setup_receiver(random_path[:32], sk, b"info")
    assert ctx.open(random_path[32:]) == b"k" * 32
    with pytest.raises(ProtocolError) as err:
        hpke.open_(sk, b"other info", random_path)
    assert err.value.code == "unwrap-failed"


def _tests(standard: Loader, name: str) -> list[dict[str, Any]]:
    data = standard(f"wycheproof/{name}")
    return [t for g in data["testGroups"] for t in g["tests"] for t in [dict(t, _g=g)]]


def test_wycheproof_x25519(standard: Loader) -> None:
    """X25519 agrees with Wycheproof; all-zero shared secrets are refused as invalid-key."""
    count = 0
    for t in _tests(standard, "x25519_test.json"):
        priv = X25519PrivateKey.from_private_bytes(bytes.fromhex(t["private"]))
        pub_bytes = bytes.fromhex(t["public"])
        if len(pub_bytes) != 32:
            continue
        pub = X25519PublicKey.from_public_bytes(pub_bytes)
        shared = bytes.fromhex(t["shared"])
        if shared == bytes(32):
            with pytest.raises(ProtocolError) as err:
                hpke._dh(priv, pub)
            assert err.value.code == "invalid-key"
        elif t["result"] != "invalid":
            assert hpke._dh(priv, pub) == shared
        count += 1
    assert count > 400


def test_wycheproof_ed25519(standard: Loader) -> None:
    """Ed25519 verification, the protocol's (libsodium) and `cryptography`'s (which signs),
    accepts exactly the valid Wycheproof signatures."""
    count = 0
    for t in _tests(standard, "ed25519_test.json"):
        pk, sig = bytes.fromhex(t["_g"]["publicKey"]["pk"]), bytes.fromhex(t["sig"])
        msg = bytes.fromhex(t["msg"])
        code = "ok"
        try:
            primitives.verify_unlabelled(pk, sig, msg)
        except ProtocolError as exc:
            code = exc.code
        assert code in ("ok", "bad-signature"), t["tcId"]
        ours = code == "ok"
        try:
            Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
            theirs = True
        except InvalidSignature:
            theirs = False
        assert ours == theirs == (t["result"] == "valid"), t["tcId"]
        count += 1
    assert count > 100


def test_wycheproof_aes_gcm(standard: Loader) -> None:
    """AES-256-GCM with 96-bit nonces (the only shape the protocol uses) agrees with Wycheproof."""
    count = 0
    for t in _tests(standard, "aes_gcm_test.json"):
        g = t["_g"]
        if g["keySize"] != 256 or g["ivSize"] != 96 or g["tagSize"] != 128:
            continue
        aead = AESGCM(bytes.fromhex(t["key"]))
        ct = bytes.fromhex(t["ct"]) + bytes.fromhex(t["tag"])
        try:
            pt = aead.decrypt(bytes.fromhex(t["iv"]), ct, bytes.fromhex(t["aad"]))
            ok = pt == bytes.fromhex(t["msg"])
        except InvalidTag:
            ok = False
        assert ok == (t["result"] == "valid"), t["tcId"]
        count += 1
    assert count > 20


def test_wycheproof_hkdf_sha256(standard: Loader) -> None:
    """HKDF-SHA256 agrees with Wycheproof, and refuses the lengths it must."""
    count = 0
    for t in _tests(standard, "hkdf_sha256_test.json"):
        salt = bytes.fromhex(t["salt"]) or None
        try:
            okm = HKDF(hashes.SHA256(), t["size"], salt=salt,
                       info=bytes.fromhex(t["info"])).derive(bytes.fromhex(t["ikm"]))
            ok = okm == bytes.fromhex(t["okm"])
        except ValueError:
            ok = False
        assert ok == (t["result"] == "valid"), t["tcId"]
        count += 1
    assert count > 50
