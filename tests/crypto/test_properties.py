"""Hypothesis properties of the entry envelope and the parsers."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_msg.crypto import envelope, grant, keys, safety
from secure_msg.crypto.errors import ProtocolError

ACCOUNTS = [keys.AccountKeys.generate(bytes([i]) * 16) for i in range(1, 9)]
BOOKLET = b"\xb0" * 16


def _seal(author: keys.AccountKeys, members: list[keys.AccountKeys], plaintext: bytes) -> bytes:
    return envelope.seal_entry(
        author, booklet_id=BOOKLET, entry_id=os.urandom(16), kind=2, sequence=1,
        prev_hash=envelope.ZERO_HASH, created_at=1, plaintext=plaintext,
        recipients=[(m.account_id, m.encryption_public) for m in members],
    )


def _verify(sealed: bytes, author: keys.AccountKeys, members: list[keys.AccountKeys]) -> None:
    envelope.verify_entry(
        sealed, author_identity_key=author.identity_public, booklet_id=BOOKLET,
        author_id=author.account_id,
        recipients={m.account_id: m.encryption_public for m in members},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plaintext=st.binary(max_size=64 * 1024), count=st.integers(1, 8))
def test_open_of_seal_is_identity(plaintext: bytes, count: int) -> None:
    """Each of 1-8 recipients of an entry of up to 64 KiB reads exactly what was sealed."""
    members = ACCOUNTS[:count]
    sealed = _seal(members[0], members, plaintext)
    _verify(sealed, members[0], members)
    for m in members:
        opened = envelope.open_entry(
            sealed, author_identity_key=members[0].identity_public,
            author_id=members[0].account_id, booklet_id=BOOKLET, me=m,
        )
        assert opened.plaintext == plaintext


SEALED = _seal(ACCOUNTS[0], ACCOUNTS[:3], b"a small clinical note")


@settings(max_examples=400, deadline=None)
@given(bit=st.integers(0, len(SEALED) * 8 - 1))
def test_any_single_bit_flip_is_rejected(bit: int) -> None:
    """One flipped bit anywhere fails both the server's verify and every recipient's open."""
    tampered = bytearray(SEALED)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(ProtocolError):
        _verify(bytes(tampered), ACCOUNTS[0], ACCOUNTS[:3])
    for m in ACCOUNTS[:3]:
        with pytest.raises(ProtocolError):
            envelope.open_entry(
                bytes(tampered), author_identity_key=ACCOUNTS[0].identity_public,
                author_id=ACCOUNTS[0].account_id, booklet_id=BOOKLET, me=m,
            )


def test_every_bit_flip_exhaustively() -> None:
    """The same, for every bit of a small envelope rather than a sample."""
    for bit in range(len(SEALED) * 8):
        tampered = bytearray(SEALED)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProtocolError):
            _verify(bytes(tampered), ACCOUNTS[0], ACCOUNTS[:3])


PARSERS = [
    envelope.parse_envelope,
    keys.KeyStatement.parse,
    keys.AccountKeys.parse,
    grant.parse_grant,
    safety.QrPayload.parse,
    lambda b: keys.open_bundle(b, b"k" * 32, keys.PURPOSE_PASSWORD),
]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), prefix=st.sampled_from([b"", b"\x01\x00\x01"]),
       kind=st.sampled_from([0x01, 0x02, 0x03, 0x10, 0x20, 0x30]))
def test_parsers_raise_only_protocol_errors(data: bytes, prefix: bytes, kind: int) -> None:
    """Arbitrary bytes never escape a parser as anything but a typed ProtocolError."""
    blob = (prefix + bytes([kind]) + data) if prefix else data
    for parse in PARSERS:
        with contextlib.suppress(ProtocolError):
            parse(blob)
