"""Attacks on protocol v1 (docs/protocol.md, docs/threat-model.md): each one must be rejected.

Every test names one attack in its docstring. Tests marked `xfail(strict=True)` are attacks the
current code does NOT reject: each is a finding in docs/threat-model.md §7 with the proposed fix.
They are strict, so fixing the code turns them into an XPASS failure: then delete the marker.
"""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from secure_msg.crypto import envelope, grant, hpke, keys, labels, safety
from secure_msg.crypto.envelope import EntryHeader, wrap_info
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.payloads import decode_payload, encode_payload
from secure_msg.crypto.primitives import sha256, sign
from secure_msg.crypto.rng import SeededRng

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "protocol-v1.json"
h = bytes.fromhex
L = 2**252 + 27742317777372353535851937790883648493  # order of the Ed25519 base point
P = ParamSpec("P")
Wrap = tuple[bytes, bytes, bytes, bytes]  # (recipient_id, recipient_ek, enc, wrapped_key)


def _account(n: int) -> keys.AccountKeys:
    return keys.AccountKeys.generate(bytes([n]) * 16, SeededRng(b"attacks/%d" % n))


THERAPIST, PARENT1, PARENT2, MALLORY, NEWCOMER = (_account(n) for n in (1, 2, 3, 4, 5))
BOOKLET_X = b"\xb1" * 16  # Mallory and the therapist are members of both booklets
BOOKLET_Y = b"\xb2" * 16
MEMBERS_X = [THERAPIST, PARENT1, PARENT2, MALLORY]
MEMBERS_Y = [THERAPIST, MALLORY]
Y_ENTRY = b"\xf1" * 16  # the booklet-Y entry Mallory re-grants in booklet X


def _refused(call: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> str:
    """The code of the ProtocolError that `call(*args, **kwargs)` must raise."""
    with pytest.raises(ProtocolError) as err:
        call(*args, **kwargs)
    return err.value.code


def _recips(members: list[keys.AccountKeys]) -> dict[bytes, bytes]:
    return {m.account_id: m.encryption_public for m in members}


def _seal(
    author: keys.AccountKeys,
    members: list[keys.AccountKeys],
    *,
    booklet: bytes = BOOKLET_X,
    plaintext: bytes = b'{"kind":"note","text":"Harjoitellaan saksilla."}',
    entry_id: bytes = b"\xe1" * 16,
    author_id: bytes | None = None,
    seq: int = 1,
) -> bytes:
    """seal_entry, or a hand-built envelope when the author lies about `author_id`."""
    signer = (
        author
        if author_id is None
        else keys.AccountKeys(author_id, author.identity_seed, author.encryption_secret)
    )
    return envelope.seal_entry(
        signer,
        booklet_id=booklet,
        entry_id=entry_id,
        kind=2,
        sequence=seq,
        prev_hash=envelope.ZERO_HASH,
        created_at=1_800_000_000_000,
        plaintext=plaintext,
        recipients=list(_recips(members).items()),
        rng=SeededRng(entry_id + booklet) if author_id is None else None,
    )


def _server_verify(
    data: bytes,
    author: keys.AccountKeys,
    *,
    booklet: bytes = BOOKLET_X,
    members: list[keys.AccountKeys] = MEMBERS_X,
    identity_key: bytes | None = None,
) -> envelope.VerifiedEntry:
    return envelope.verify_entry(
        data,
        author_identity_key=identity_key or author.identity_public,
        booklet_id=booklet,
        author_id=author.account_id,
        recipients=_recips(members),
    )


def _open(
    data: bytes,
    *,
    me: keys.AccountKeys = PARENT1,
    author: keys.AccountKeys = THERAPIST,
    booklet: bytes = BOOKLET_X,
) -> envelope.OpenedEntry:
    """A recipient's open that tells the library which booklet and author it expects.

    Before finding F3 was fixed, `open_entry` took neither and the replay attacks went through.
    """
    return envelope.open_entry(
        data,
        author_identity_key=author.identity_public,
        author_id=author.account_id,
        booklet_id=booklet,
        me=me,
    )


def _resign(unsigned: bytes, signer: keys.AccountKeys, label: bytes) -> bytes:
    return unsigned + sign(signer.identity, label, unsigned)


def _wraps(env: envelope.Envelope) -> list[Wrap]:
    return [(w.recipient_id, w.recipient_ek, w.enc, w.wrapped_key) for w in env.wraps]


def _rebuild(
    env: envelope.Envelope,
    wraps: list[Wrap] | None = None,
    header: bytes | None = None,
) -> bytes:
    """The unsigned part of an envelope with its header and/or wraps replaced."""
    ws = wraps if wraps is not None else _wraps(env)
    return b"".join(
        [
            header or env.header_bytes,
            struct.pack(">I", len(env.body)),
            env.body,
            struct.pack(">H", len(ws)),
        ]
        + [b"".join(w) for w in ws]
    )


def _resigned_with_wrap(
    env: envelope.Envelope,
    who: keys.AccountKeys,
    *,
    enc: bytes | None = None,
    wrapped_key: bytes | None = None,
) -> bytes:
    """`env` with `who`'s wrap given another enc and/or wrapped_key, re-signed by the therapist."""
    ws = [
        (rid, ek, e if enc is None else enc, wk if wrapped_key is None else wrapped_key)
        if rid == who.account_id
        else (rid, ek, e, wk)
        for rid, ek, e, wk in _wraps(env)
    ]
    return _resign(_rebuild(env, ws), THERAPIST, labels.ENTRY_SIGNATURE)


def _wrap_of(env: envelope.Envelope, who: keys.AccountKeys) -> envelope.Wrap:
    return next(w for w in env.wraps if w.recipient_id == who.account_id)


# --- low-order X25519 points (RFC 7748 §7 / Wycheproof "low order public key") --------------

X25519_LOW_ORDER = [
    bytes(32),
    (1).to_bytes(32, "little"),
    h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    h("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    h("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # p - 1
    h("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # p (= 0)
    h("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # p + 1 (= 1)
    h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880"),  # high bit set
]

# Ed25519 encodings of points of small order (the 8 torsion points, canonical and not).
ED25519_SMALL_ORDER = [
    h("0100000000000000000000000000000000000000000000000000000000000000"),  # identity
    h("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    h("0000000000000000000000000000000000000000000000000000000000000080"),  # order 4
    h("0000000000000000000000000000000000000000000000000000000000000000"),  # order 4
    h("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
    h("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),  # order 8
    h("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    h("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),  # order 8
    h("0100000000000000000000000000000000000000000000000000000000000080"),  # identity, x=-0
    h("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y = p, non-canonical
]


# ============================================================================================
# Entries
# ============================================================================================


def test_envelope_replayed_into_another_booklet_is_refused_by_the_server() -> None:
    """Replay: a valid envelope of booklet X posted to booklet Y."""
    sealed = _seal(THERAPIST, MEMBERS_Y, booklet=BOOKLET_X)
    code = _refused(_server_verify, sealed, THERAPIST, booklet=BOOKLET_Y, members=MEMBERS_Y)
    assert code == "wrong-booklet"


def test_envelope_replayed_into_another_booklet_is_refused_by_the_recipient() -> None:
    """Replay by a malicious server: an entry of booklet Y served to a member inside booklet X."""
    sealed = _seal(THERAPIST, MEMBERS_Y, booklet=BOOKLET_Y)
    assert _refused(_open, sealed, me=MALLORY, booklet=BOOKLET_X) == "wrong-booklet"


def test_author_claiming_another_authors_id_is_refused_by_the_server() -> None:
    """Impersonation: Mallory signs a header whose author_id is the therapist's."""
    forged = _seal(MALLORY, MEMBERS_X, author_id=THERAPIST.account_id)
    # the server checks against the session user, or under the claimed author's key
    assert _refused(_server_verify, forged, MALLORY) == "wrong-author"
    assert _refused(_server_verify, forged, THERAPIST) == "bad-signature"


def test_author_claiming_another_authors_id_is_refused_under_the_claimed_key() -> None:
    """Impersonation: checked under the claimed author's pinned IK, the signature is bad."""
    forged = _seal(MALLORY, MEMBERS_X, author_id=THERAPIST.account_id)
    assert _refused(_open, forged) == "bad-signature"


def test_author_id_not_matching_the_signing_key_is_refused_by_the_recipient() -> None:
    """Impersonation via a malicious server: header says 'therapist', signature is Mallory's."""
    forged = _seal(MALLORY, MEMBERS_X, author_id=THERAPIST.account_id)
    # The server (colluding) labels the entry as Mallory's so the client picks Mallory's key.
    assert _refused(_open, forged, author=MALLORY) == "wrong-author"


def test_wrap_spliced_from_another_entry_breaks_the_signature() -> None:
    """Splicing: a wrap copied from entry A into entry B (not re-signed)."""
    a = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X, entry_id=b"\xa1" * 16))
    b = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X, entry_id=b"\xa2" * 16))
    wraps = _wraps(b)
    wraps[1] = _wraps(a)[1]
    spliced = _rebuild(b, wraps) + b.signature
    assert _refused(_server_verify, spliced, THERAPIST) == "bad-signature"
    assert _refused(_open, spliced) == "bad-signature"


def test_wrap_spliced_from_another_entry_and_resigned_does_not_unwrap() -> None:
    """Splicing by the author: a wrap from entry A re-signed into entry B fails the HPKE info."""
    a = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X, entry_id=b"\xa1" * 16))
    b = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X, entry_id=b"\xa2" * 16))
    wa = _wrap_of(a, PARENT1)
    spliced = _resigned_with_wrap(b, PARENT1, enc=wa.enc, wrapped_key=wa.wrapped_key)
    _server_verify(spliced, THERAPIST)  # the server cannot tell (protocol.md §4.3)
    assert _refused(_open, spliced) == "unwrap-failed"


def test_wrap_redirected_to_another_recipient_id_does_not_unwrap() -> None:
    """Splicing: Parent1's wrap relabelled as Parent2's (same EK slot swapped) fails to unwrap."""
    b = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X))
    w2 = _wrap_of(b, PARENT2)  # Parent2's enc/ct under Parent1's id and EK
    swapped = _resigned_with_wrap(b, PARENT1, enc=w2.enc, wrapped_key=w2.wrapped_key)
    assert _refused(_open, swapped) == "unwrap-failed"


def test_server_refuses_an_extra_recipient_or_a_substituted_ek() -> None:
    """Recipient-set tampering: an outsider added, a member dropped or a member's EK swapped."""
    swapped = keys.AccountKeys(
        PARENT1.account_id, NEWCOMER.identity_seed, NEWCOMER.encryption_secret
    )
    for recipients in (
        [*MEMBERS_X, NEWCOMER],
        MEMBERS_X[:-1],
        [THERAPIST, swapped, PARENT2, MALLORY],
    ):
        sealed = _seal(THERAPIST, recipients)
        assert _refused(_server_verify, sealed, THERAPIST) == "recipient-set-mismatch"


def test_removed_member_gets_no_wrap_for_new_entries() -> None:
    """Removed member: an entry sealed after removal cannot be opened with the old keys."""
    after = _seal(THERAPIST, [THERAPIST, PARENT1, PARENT2])
    assert _refused(_open, after, me=MALLORY) == "not-a-recipient"


def test_duplicate_or_unsorted_recipients_are_refused() -> None:
    """Non-canonical wraps: a recipient listed twice or out of order, even if re-signed."""
    b = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X))
    ws = _wraps(b)
    for bad in (ws[::-1], [ws[0], ws[0], *ws[1:]]):
        data = _resign(_rebuild(b, bad), THERAPIST, labels.ENTRY_SIGNATURE)
        assert _refused(_server_verify, data, THERAPIST) == "recipients-not-canonical"


def test_recipient_count_and_body_length_bounds() -> None:
    """Resource abuse: a zero/huge wrap count or a 4 GiB body_len is refused before any work."""
    sealed = _seal(THERAPIST, MEMBERS_X)
    env = envelope.parse_envelope(sealed)
    body_end = envelope.HEADER_LEN + 4 + len(env.body)
    for count in (0, 65, 0xFFFF):
        data = sealed[:body_end] + struct.pack(">H", count) + sealed[body_end + 2 :]
        assert _refused(envelope.parse_envelope, data) == "bad-recipient-count"
    for body_len in (0, 15, envelope.MAX_BODY + 1, 0xFFFFFFFF):
        data = (
            sealed[: envelope.HEADER_LEN]
            + struct.pack(">I", body_len)
            + sealed[envelope.HEADER_LEN + 4 :]
        )
        assert _refused(envelope.parse_envelope, data) == "malformed"


@pytest.mark.parametrize("bad", X25519_LOW_ORDER, ids=lambda b: b.hex()[:8])
def test_low_order_recipient_ek_is_invalid_key(bad: bytes) -> None:
    """Low-order EK: sealing to a low-order X25519 key is invalid-key, never a crash or zero key."""
    code = _refused(
        envelope.seal_entry,
        THERAPIST,
        booklet_id=BOOKLET_X,
        entry_id=b"\x01" * 16,
        kind=2,
        sequence=1,
        prev_hash=envelope.ZERO_HASH,
        created_at=1,
        plaintext=b"x",
        recipients=[(THERAPIST.account_id, THERAPIST.encryption_public), (b"\x09" * 16, bad)],
    )
    assert code == "invalid-key"
    # the vectors' explicit-ephemeral path too
    assert _refused(hpke.seal, bad, b"info", b"k" * 32, ephemeral=b"\x42" * 32) == "invalid-key"


@pytest.mark.parametrize("bad", X25519_LOW_ORDER, ids=lambda b: b.hex()[:8])
def test_low_order_hpke_enc_is_unwrap_failed(bad: bytes) -> None:
    """Low-order HPKE enc: a wrap whose `enc` is a low-order point gives unwrap-failed."""
    b = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X))
    data = _resigned_with_wrap(b, PARENT1, enc=bad)
    assert _refused(_open, data) == "unwrap-failed"


def test_wrapped_key_of_the_wrong_length_is_unwrap_failed() -> None:
    """Short content key: an author HPKE-seals a 16-byte key and pads the 48-byte slot."""
    b = envelope.parse_envelope(_seal(THERAPIST, MEMBERS_X))
    info = wrap_info(b.header_hash, PARENT1.account_id, PARENT1.encryption_public)
    # A 32-byte wrapped_key slot holds 16-byte plaintext + tag; pad the slot to 48 with junk so
    # the layout stays valid: HPKE then fails the tag, never returns a short key.
    short = hpke.seal(PARENT1.encryption_public, info, b"k" * 16)
    data = _resigned_with_wrap(b, PARENT1, enc=short[:32], wrapped_key=short[32:] + b"\x00" * 16)
    assert _refused(_open, data) == "unwrap-failed"


def test_every_prefix_of_an_envelope_is_truncated_and_every_extension_trailing() -> None:
    """Truncation: every proper prefix of a valid envelope raises ProtocolError('truncated')."""
    sealed = _seal(THERAPIST, MEMBERS_X)
    for n in range(len(sealed)):
        for check in (
            lambda d: envelope.parse_envelope(d),
            lambda d: _server_verify(d, THERAPIST),
            lambda d: _open(d),
        ):
            assert _refused(check, sealed[:n]) == "truncated", n
    for extra in (b"\x00", b"\x00" * 64, sealed):
        assert _refused(envelope.parse_envelope, sealed + extra) == "trailing-data"


# --- AES-GCM is not key-committing ------------------------------------------------------------


def _gf_mul(x: int, y: int) -> int:
    """Multiplication in GCM's GF(2^128) (NIST SP 800-38D, Algorithm 1)."""
    r, z, v = 0xE1 << 120, 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ r if v & 1 else v >> 1
    return z


def _gf_pow(x: int, e: int) -> int:
    out = 1 << 127  # the field's 1 in GCM bit order
    while e:
        if e & 1:
            out = _gf_mul(out, x)
        x = _gf_mul(x, x)
        e >>= 1
    return out


def _aes_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one raw block
    return enc.update(block) + enc.finalize()


def _keystream(key: bytes, nonce: bytes, n_blocks: int) -> bytes:
    return b"".join(_aes_block(key, nonce + struct.pack(">I", 2 + i)) for i in range(n_blocks))


def _blocks(data: bytes) -> list[int]:
    data += b"\x00" * (-len(data) % 16)
    return [int.from_bytes(data[i : i + 16], "big") for i in range(0, len(data), 16)]


def _two_key_gcm_ciphertext(
    k1: bytes, k2: bytes, nonce: bytes, aad: bytes, plaintext1: bytes
) -> bytes:
    """A ciphertext+tag that AES-GCM accepts under both k1 and k2 (Grubbs et al. 2018).

    Under k1 it decrypts to `plaintext1` followed by one block the attacker solves for.
    """
    assert len(plaintext1) % 16 == 0
    n = len(plaintext1) // 16 + 1
    ks1 = _keystream(k1, nonce, n)
    c = bytearray(a ^ b for a, b in zip(plaintext1, ks1, strict=False)) + bytearray(16)
    h1 = int.from_bytes(_aes_block(k1, bytes(16)), "big")
    h2 = int.from_bytes(_aes_block(k2, bytes(16)), "big")
    s1 = int.from_bytes(_aes_block(k1, nonce + b"\x00\x00\x00\x01"), "big")
    s2 = int.from_bytes(_aes_block(k2, nonce + b"\x00\x00\x00\x01"), "big")
    length = ((len(aad) * 8) << 64) | (len(c) * 8)
    xs = [*_blocks(aad), *_blocks(bytes(c)), length]
    free = len(_blocks(aad)) + n - 1  # index of the last ciphertext block in xs
    m = len(xs)
    acc = s1 ^ s2
    for j, x in enumerate(xs):
        if j != free:
            acc ^= _gf_mul(x, _gf_pow(h1, m - j) ^ _gf_pow(h2, m - j))
    coeff = _gf_pow(h1, m - free) ^ _gf_pow(h2, m - free)
    xs[free] = _gf_mul(acc, _gf_pow(coeff, 2**128 - 2))
    c[-16:] = xs[free].to_bytes(16, "big")
    tag = s1
    for j, x in enumerate(xs):
        tag ^= _gf_mul(x, _gf_pow(h1, m - j))
    return bytes(c) + tag.to_bytes(16, "big")


def _equivocating_entry(*, commit: bool = True) -> bytes:
    """Finding F4: Mallory wraps k1 to PARENT1 and k2 to PARENT2 for one body that decrypts
    under both (AES-GCM is not key-committing), and signs it. The header commits to k1; without
    `commit` it is the retired type 0x10 layout, which had no commitment."""
    k1, k2, nonce = b"\x11" * 32, b"\x22" * 32, b"\x33" * 12
    header = EntryHeader(
        BOOKLET_X,
        b"\xe9" * 16,
        MALLORY.account_id,
        2,
        1,
        envelope.ZERO_HASH,
        1_800_000_000_000,
        nonce,
        envelope.key_commitment(k1),
    ).encode()
    if not commit:
        header = header[:3] + b"\x10" + header[4:113]
    body = _two_key_gcm_ciphertext(k1, k2, nonce, header, b"Session cancelled by family...!!")
    hh = sha256(labels.ENTRY_HEADER, header)
    wraps = []
    for m in sorted(MEMBERS_X, key=lambda a: a.account_id):
        key = k2 if m is PARENT2 else k1
        sealed = hpke.seal(
            m.encryption_public, wrap_info(hh, m.account_id, m.encryption_public), key
        )
        wraps.append(m.account_id + m.encryption_public + sealed)
    unsigned = header + struct.pack(">I", len(body)) + body + struct.pack(">H", 4) + b"".join(wraps)
    return _resign(unsigned, MALLORY, labels.ENTRY_SIGNATURE)


def test_one_signed_entry_cannot_show_two_recipients_different_plaintexts() -> None:
    """Equivocation (F4): the server accepts the entry, but only the recipient whose key the
    signed header commits to can open it; the other gets key-commitment-mismatch."""
    data = _equivocating_entry()
    _server_verify(data, MALLORY)
    seen = set()
    for me in (PARENT1, PARENT2):
        with contextlib.suppress(ProtocolError):  # refusing is fine; another text is not
            seen.add(_open(data, author=MALLORY, me=me).plaintext)
    assert len(seen) <= 1, "two recipients of one signed entry read different plaintexts"
    with pytest.raises(ProtocolError) as err:
        _open(data, author=MALLORY, me=PARENT2)
    assert err.value.code == "key-commitment-mismatch"


def test_equivocation_in_the_retired_layout_opens_for_nobody() -> None:
    """The same attack in the type 0x10 layout, which commits to no key, is refused by the
    server and by every recipient (wrong-type), so a server colluding with the author cannot
    serve it either."""
    data = _equivocating_entry(commit=False)
    assert _refused(_server_verify, data, MALLORY) == "wrong-type"
    for me in (PARENT1, PARENT2):
        assert _refused(_open, data, author=MALLORY, me=me) == "wrong-type"


# ============================================================================================
# Key statements and identity keys
# ============================================================================================


def _verify_statement(blob: bytes) -> None:
    keys.KeyStatement.parse(blob).verify()


def _signed_by_mallory(account_id: bytes, ik: bytes, ek: bytes) -> bytes:
    """A version-1 key statement for these keys, signed with Mallory's identity key."""
    unsigned = keys.KeyStatement(account_id, ik, ek, 1, b"")
    signature = sign(MALLORY.identity, labels.KEY_STATEMENT, unsigned.signed_part())
    return keys.KeyStatement(account_id, ik, ek, 1, signature).encode()


def test_key_statement_claiming_another_identity_key_is_bad_signature() -> None:
    """Key substitution: Mallory's statement carries the parent's IK but is signed by Mallory."""
    real = PARENT1.statement(1)
    forged = _signed_by_mallory(
        PARENT1.account_id, PARENT1.identity_public, MALLORY.encryption_public
    )
    assert _refused(_verify_statement, forged) == "bad-signature"
    _verify_statement(real.encode())


def test_key_statement_signed_by_another_identity_fails_the_pin() -> None:
    """Key substitution: a self-consistent statement for the parent's account under Mallory's IK."""
    liar = keys.AccountKeys(PARENT1.account_id, MALLORY.identity_seed, MALLORY.encryption_secret)
    st = keys.KeyStatement.parse(liar.statement(1).encode())
    st.verify()  # self-signed: verifies on its own, which is why pinning exists
    pin = (PARENT1.account_id, PARENT1.identity_public)
    assert _refused(st.check_pinned, *pin) == "identity-key-changed"
    other = keys.KeyStatement.parse(MALLORY.statement(1).encode())  # another account's real one
    assert _refused(other.check_pinned, *pin) == "account-mismatch"


def test_non_canonical_ed25519_signatures_are_refused() -> None:
    """Malleability: S + L (S >= L) in an entry, statement or grant signature is bad-signature."""

    def bump(blob: bytes) -> bytes:
        s = int.from_bytes(blob[-32:], "little") + L
        assert s < 2**256
        return blob[:-32] + s.to_bytes(32, "little")

    sealed = _seal(THERAPIST, MEMBERS_X)
    assert _refused(_server_verify, bump(sealed), THERAPIST) == "bad-signature"
    assert _refused(_verify_statement, bump(THERAPIST.statement(1).encode())) == "bad-signature"
    g, ctx = _grant()
    assert _grant_refusal(bump(g), ctx) == "bad-signature"
    # R replaced by a non-canonical encoding (y = p + 1) also fails
    bad_r = sealed[:-64] + h("ee" + "ff" * 30 + "7f") + sealed[-32:]
    assert _refused(_server_verify, bad_r, THERAPIST) == "bad-signature"


def _forge_with_small_order_key(ik: bytes, signed_part_for: Any) -> bytes | None:
    """Find (message, signature) that OpenSSL accepts under a small-order key, if any."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pub = Ed25519PublicKey.from_public_bytes(ik)
    for created_at in range(64):
        msg = signed_part_for(created_at)
        for r in ED25519_SMALL_ORDER:
            sig = r + bytes(32)
            try:
                pub.verify(sig, labels.labelled(labels.KEY_STATEMENT, msg))
            except InvalidSignature:
                continue
            return bytes(msg + sig)
    return None


@pytest.mark.parametrize("ik", ED25519_SMALL_ORDER, ids=lambda b: b.hex()[:8] + b.hex()[-2:])
def test_small_order_identity_key_is_invalid_key(ik: bytes) -> None:
    """Weak identity key: a small-order Ed25519 IK, under which anyone can forge signatures."""

    def part(created_at: int) -> bytes:
        return keys.KeyStatement(
            MALLORY.account_id, ik, MALLORY.encryption_public, created_at, b""
        ).signed_part()

    blob = _forge_with_small_order_key(ik, part) or part(0) + bytes(64)
    assert _refused(_verify_statement, blob) == "invalid-key"


def test_entry_under_identity_point_key_cannot_be_forged_by_the_server() -> None:
    """Universal forgery: with IK = identity point, anyone (the server) can sign any entry."""
    ik = ED25519_SMALL_ORDER[0]
    unsigned = _rebuild(envelope.parse_envelope(_seal(MALLORY, MEMBERS_X)))
    forged = unsigned + ik + bytes(32)  # R = identity, S = 0: [0]B == R + k*O for every k
    with pytest.raises(ProtocolError):
        _server_verify(forged, MALLORY, identity_key=ik)


@pytest.mark.parametrize("ek", X25519_LOW_ORDER[:4], ids=lambda b: b.hex()[:8])
def test_key_statement_with_low_order_ek_is_invalid_key(ek: bytes) -> None:
    """Booklet DoS: a member registers a low-order EK, so every later seal to the booklet fails."""
    st = _signed_by_mallory(MALLORY.account_id, MALLORY.identity_public, ek)
    assert _refused(_verify_statement, st) == "invalid-key"


def test_every_prefix_of_fixed_objects_is_truncated() -> None:
    """Truncation: every proper prefix of a statement, QR payload, grant or bundle is truncated."""
    g, _ = _grant()
    v = json.loads(VECTORS.read_text(encoding="utf-8"))["accounts"][0]
    qr = safety.QrPayload(
        PARENT1.account_id, PARENT1.identity_public, THERAPIST.account_id, THERAPIST.identity_public
    ).encode()
    cases = [
        (THERAPIST.statement(1).encode(), keys.KeyStatement.parse),
        (qr, safety.QrPayload.parse),
        (g, grant.parse_grant),
        (
            h(v["sealed_bundle_password"]),
            lambda d: keys.open_bundle(d, h(v["kek"]), keys.PURPOSE_PASSWORD),
        ),
    ]
    for blob, parse in cases:
        parse(blob)
        for n in range(len(blob)):
            assert _refused(parse, blob[:n]) == "truncated", (parse, n)
        assert _refused(parse, blob + b"\x00") == "trailing-data"


# ============================================================================================
# History grants
# ============================================================================================


def _grant(
    booklet: bytes = BOOKLET_X,
    items: list[tuple[bytes, bytes, bytes]] | None = None,
    granter: keys.AccountKeys = THERAPIST,
) -> tuple[bytes, dict[str, Any]]:
    if items is None:
        sealed = _seal(THERAPIST, MEMBERS_X, booklet=booklet)
        opened = _open(sealed, booklet=booklet, me=granter)
        items = [(opened.header.entry_id, opened.entry_hash, opened.content_key)]
    blob = grant.seal_grant(
        granter,
        booklet_id=booklet,
        grantee_id=NEWCOMER.account_id,
        grantee_ek=NEWCOMER.encryption_public,
        created_at=1,
        keys=items,
    )
    ctx = {
        "granter_identity_key": granter.identity_public,
        "booklet_id": booklet,
        "granter_id": granter.account_id,
        "grantee_id": NEWCOMER.account_id,
        "grantee_ek": NEWCOMER.encryption_public,
        "entry_hashes": {i[0]: i[1] for i in items},
    }
    return blob, ctx


def _mallory_regrants_a_y_entry_in_x() -> tuple[bytes, bytes, dict[str, Any]]:
    """Mallory, in booklets X and Y, re-wraps a Y entry key in an X grant: (entry, grant, ctx)."""
    y_entry = _seal(THERAPIST, MEMBERS_Y, booklet=BOOKLET_Y, entry_id=Y_ENTRY)
    opened = _open(y_entry, booklet=BOOKLET_Y, me=MALLORY)
    blob, ctx = _grant(
        BOOKLET_X, [(Y_ENTRY, opened.entry_hash, opened.content_key)], granter=MALLORY
    )
    return y_entry, blob, ctx


def _open_grant(
    blob: bytes, *, granter: keys.AccountKeys = THERAPIST, me: keys.AccountKeys = NEWCOMER
) -> dict[bytes, tuple[bytes, bytes]]:
    return grant.open_grant(blob, granter_identity_key=granter.identity_public, me=me)


def _grant_refusal(blob: bytes, ctx: dict[str, Any], **changed: Any) -> str:
    """The server's refusal of grant `blob` checked against `ctx` with some fields changed."""
    return _refused(grant.verify_grant, blob, **{**ctx, **changed})


def _patched_grant(blob: bytes, at: slice, new: bytes) -> bytes:
    """The signed part of grant `blob` with the bytes `at` replaced by `new` (not re-signed)."""
    part = bytearray(grant.parse_grant(blob).signed_part)
    part[at] = new
    return bytes(part)


def test_grant_rewrapping_an_entry_of_another_booklet_is_refused_by_the_server() -> None:
    """Cross-booklet grant: Mallory, in booklets X and Y, re-wraps a Y entry key in an X grant."""
    _, blob, ctx = _mallory_regrants_a_y_entry_in_x()
    x_hashes = {b"\xe1" * 16: b"\x00" * 32}  # booklet X's entries, which Y's entry is not
    assert _grant_refusal(blob, ctx, entry_hashes=x_hashes) == "unknown-entry"
    # same entry id in X but another hash: entry-hash-mismatch
    same_id = {Y_ENTRY: b"\x00" * 32}
    assert _grant_refusal(blob, ctx, entry_hashes=same_id) == "entry-hash-mismatch"


def test_grant_rewrapping_an_entry_of_another_booklet_is_refused_by_the_grantee() -> None:
    """Cross-booklet grant via a colluding server: the grantee must not file a Y entry under X."""
    y_entry, blob, _ = _mallory_regrants_a_y_entry_in_x()
    ehash, key = _open_grant(blob, granter=MALLORY)[Y_ENTRY]
    assert _open_granted_in_x(y_entry, Y_ENTRY, key, ehash) == "wrong-booklet"


def _open_granted_in_x(data: bytes, entry_id: bytes, key: bytes, ehash: bytes) -> str:
    """The grantee's open of a therapist's entry filed under booklet X: the refusal's code."""
    return _refused(
        envelope.open_entry_with_key,
        data,
        author_identity_key=THERAPIST.identity_public,
        author_id=THERAPIST.account_id,
        booklet_id=BOOKLET_X,
        entry_id=entry_id,
        content_key=key,
        expected_hash=ehash,
    )


def test_grant_handing_on_another_key_is_refused_by_the_grantee() -> None:
    """A granter who re-wraps some other key than the entry's (say the k2 of an equivocating
    pair) gets the grantee nothing: the entry's signed header commits to its one key."""
    data = _seal(THERAPIST, MEMBERS_X)
    env = envelope.parse_envelope(data)
    code = _open_granted_in_x(data, env.header.entry_id, b"\x22" * 32, env.entry_hash)
    assert code == "key-commitment-mismatch"


def test_grant_items_moved_to_another_booklets_grant_do_not_unwrap() -> None:
    """Splicing: items of a grant for booklet X re-signed into a grant for booklet Y."""
    blob, _ = _grant(BOOKLET_X)
    moved = _patched_grant(blob, slice(4, 20), BOOKLET_Y)
    data = _resign(moved, THERAPIST, labels.GRANT_SIGNATURE)
    assert _refused(_open_grant, data) == "unwrap-failed"
    not_resigned = moved + grant.parse_grant(blob).signature
    assert _refused(_open_grant, not_resigned) == "bad-signature"


def test_grant_item_pointed_at_another_entry_does_not_unwrap() -> None:
    """Splicing: an item's entry_id/entry_hash changed to another entry's (re-signed)."""
    blob, _ = _grant(BOOKLET_X)
    moved = _patched_grant(blob, slice(96, 112), b"\xe2" * 16)
    data = _resign(moved, THERAPIST, labels.GRANT_SIGNATURE)
    assert _refused(_open_grant, data) == "unwrap-failed"


def test_grant_for_someone_else_or_another_ek_is_refused() -> None:
    """Misdirected grant: the server or grantee sees a grant for another grantee or a stale EK."""
    blob, ctx = _grant()
    assert _grant_refusal(blob, ctx, grantee_id=PARENT1.account_id) == "wrong-grantee"
    stale_ek = PARENT1.encryption_public
    assert _grant_refusal(blob, ctx, grantee_ek=stale_ek) == "grantee-key-mismatch"
    assert _grant_refusal(blob, ctx, granter_id=MALLORY.account_id) == "wrong-author"
    assert _refused(_open_grant, blob, me=PARENT1) == "wrong-grantee"
    assert _refused(_open_grant, blob, granter=MALLORY) == "bad-signature"


def test_grant_with_low_order_enc_is_unwrap_failed() -> None:
    """Low-order HPKE enc inside a grant item gives unwrap-failed, never a crash."""
    blob, _ = _grant()
    for bad in X25519_LOW_ORDER:
        tampered = _patched_grant(blob, slice(96 + 48, 96 + 80), bad)
        data = _resign(tampered, THERAPIST, labels.GRANT_SIGNATURE)
        assert _refused(_open_grant, data) == "unwrap-failed"


def test_grant_item_count_bounds() -> None:
    """Resource abuse: an item_count of 0 or 2^32-1 is refused before reading items."""
    blob, _ = _grant()
    for count in (0, grant.MAX_ITEMS + 1, 0xFFFFFFFF):
        data = blob[:92] + struct.pack(">I", count) + blob[96:]
        assert _refused(grant.parse_grant, data) == "bad-item-count"


# ============================================================================================
# Sealed key bundles, KDF parameters, QR
# ============================================================================================


@pytest.fixture(scope="module")
def accts() -> list[dict[str, Any]]:
    return list(json.loads(VECTORS.read_text(encoding="utf-8"))["accounts"])


def test_sealed_bundle_moved_to_another_account_is_refused(accts: list[dict[str, Any]]) -> None:
    """Bundle swap: A's sealed bundle relabelled as B's, or opened with B's key, does not open."""
    a, b = accts[0], accts[1]
    blob = h(a["sealed_bundle_password"])
    relabelled = blob[:4] + h(b["account_id"]) + blob[20:]
    for data, kek in ((relabelled, a["kek"]), (blob, b["kek"])):
        code = _refused(keys.open_bundle, data, h(kek), keys.PURPOSE_PASSWORD)
        assert code == "bundle-decrypt-failed"


def _account_keys(acct: dict[str, Any]) -> keys.AccountKeys:
    return keys.AccountKeys.from_secrets(
        h(acct["account_id"]), h(acct["identity_seed"]), h(acct["encryption_secret"])
    )


def test_bundle_whose_inner_account_differs_is_refused(accts: list[dict[str, Any]]) -> None:
    """Bundle swap by someone holding the KEK: B's keys sealed under A's account id."""
    a, b = accts[0], accts[1]
    b_keys, a_keys = _account_keys(b), _account_keys(a)
    header = b"\x01\x00\x01\x03" + a_keys.account_id + bytes([keys.PURPOSE_PASSWORD]) + b"\x07" * 12
    from secure_msg.crypto.primitives import aes_gcm_encrypt

    ct = aes_gcm_encrypt(h(a["kek"]), header[21:33], b_keys.encode(), header)
    bundle = header + struct.pack(">I", len(ct)) + ct
    code = _refused(keys.open_bundle, bundle, h(a["kek"]), keys.PURPOSE_PASSWORD)
    assert code == "account-mismatch"
    # keys that do not match the account's published statement
    a_statement = keys.KeyStatement.parse(h(a["key_statement"]))
    assert _refused(b_keys.check_matches, a_statement) == "bundle-key-mismatch"
    a_keys.check_matches(a_statement)


def test_recovery_bundle_presented_as_password_bundle_is_refused(
    accts: list[dict[str, Any]],
) -> None:
    """Purpose confusion: the recovery-sealed bundle offered where the password bundle belongs."""
    a = accts[0]
    rec = h(a["sealed_bundle_recovery"])
    assert _refused(keys.open_bundle, rec, h(a["kek"]), keys.PURPOSE_PASSWORD) == "wrong-purpose"
    relabelled = rec[:20] + bytes([keys.PURPOSE_PASSWORD]) + rec[21:]
    for kek in (h(a["recovery_kek"]), h(a["kek"])):
        code = _refused(keys.open_bundle, relabelled, kek, keys.PURPOSE_PASSWORD)
        assert code == "bundle-decrypt-failed"
    # and the other way round
    password_bundle, recovery_kek = h(a["sealed_bundle_password"]), h(a["recovery_kek"])
    code = _refused(keys.open_bundle, password_bundle, recovery_kek, keys.PURPOSE_RECOVERY)
    assert code == "wrong-purpose"


def test_sealed_bundle_with_wrong_ct_len_is_malformed(accts: list[dict[str, Any]]) -> None:
    """Layout abuse: a sealed bundle announcing a ct_len other than 100."""
    blob = h(accts[0]["sealed_bundle_password"])
    for n in (0, 99, 101, 0xFFFFFFFF):
        data = blob[:33] + struct.pack(">I", n) + blob[37:]
        assert _refused(keys.open_bundle, data, b"k" * 32, keys.PURPOSE_PASSWORD) == "malformed"


def test_server_cannot_downgrade_the_password_kdf() -> None:
    """KDF downgrade: the server offers fewer iterations or a short/long salt."""
    for iterations, salt in (
        (599_999, b"s" * 16),
        (1, b"s" * 16),
        (600_000, b"s" * 15),
        (600_000, b""),
        (600_000, b"s" * 17),
    ):
        code = _refused(keys.derive_password_keys, "pw", salt, iterations)
        assert code == "weak-kdf-params"


def test_qr_payload_with_swapped_or_substituted_keys_is_refused() -> None:
    """MITM at verification: a QR code showing a substituted key, or roles swapped."""
    peer = (PARENT1.account_id, PARENT1.identity_public)
    me = (THERAPIST.account_id, THERAPIST.identity_public)
    good = safety.QrPayload(*peer, *me)
    good.check(peer, me)
    for bad in (
        safety.QrPayload(*me, *peer),
        safety.QrPayload(PARENT1.account_id, MALLORY.identity_public, *me),
        safety.QrPayload(*peer, THERAPIST.account_id, MALLORY.identity_public),
    ):
        scanned = safety.QrPayload.parse(bad.encode())
        assert _refused(scanned.check, peer, me) == "qr-mismatch"
    substituted = (PARENT1.account_id, MALLORY.identity_public)
    assert safety.safety_number(peer, me) != safety.safety_number(substituted, me)


# ============================================================================================
# Payloads: a malicious author controls the plaintext bytes completely
# ============================================================================================


def test_hostile_payload_is_bad_payload_not_a_crash() -> None:
    """Client crash: a member's payload with deep nesting."""
    deep = b'{"kind":"note","text":"x","n":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert _refused(decode_payload, 2, deep) == "bad-payload"


def test_huge_numbers_are_ignored_as_the_browser_ignores_them() -> None:
    """Cross-client split: a 5000-digit integer in an unknown member was bad-payload here (the
    int() digit limit) and read by the browser. Numbers are never converted now, and unknown
    members are left out of what a reader returns."""
    for number in (b"1" * 5000, b"1e400", b"-0.5e-99999"):
        plaintext = b'{"kind":"note","text":"x","n":' + number + b"}"
        assert decode_payload(2, plaintext) == {"kind": "note", "text": "x"}


def test_non_json_constants_are_bad_payload() -> None:
    """Cross-client split: NaN accepted by the Python client but refused by the browser."""
    assert _refused(decode_payload, 2, b'{"kind":"note","text":"x","n":NaN}') == "bad-payload"


def test_payload_kind_must_match_header_kind() -> None:
    """Kind confusion: a 'title' payload inside a 'note' entry, or a note missing its text."""
    assert _refused(decode_payload, 2, encode_payload("title", title="x")) == "bad-payload"
    for bad in (b'{"kind":"note"}', b'{"kind":"note","text":1}', b"[]", b"\xff", b""):
        assert _refused(decode_payload, 2, bad) == "bad-payload"
