"""At-rest vault: round trips, tampering and misuse fail with a typed error, blind indexes."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_msg.contacts import normalise_email, normalise_phone
from secure_msg.crypto.vault import Vault
from secure_msg.errors import InvalidEmailAddress, InvalidPhoneNumber, VaultError

A, B = bytes(range(32)), bytes(range(1, 33))
VAULT = Vault(A, B, os.urandom)


@given(st.text(max_size=200))
def test_seal_then_open_returns_the_text(text: str) -> None:
    """Any text survives a seal/open round trip under the same purpose."""
    assert VAULT.open_text("invitations.name", VAULT.seal_text("invitations.name", text)) == text


def test_blob_layout_is_version_nonce_ciphertext_tag() -> None:
    """Version 1 byte, 12-byte random nonce, ciphertext and 16-byte tag; fresh nonce per seal."""
    one, two = VAULT.seal("invitations.phone", b"+358401234567"), VAULT.seal(
        "invitations.phone", b"+358401234567")
    assert one[0] == 1
    assert len(one) == 1 + 12 + 13 + 16
    assert one[1:13] != two[1:13]


def test_fixed_rng_gives_a_reproducible_blob() -> None:
    """Randomness is injected, so a fixed source yields a fixed vector."""
    vault = Vault(A, B, lambda n: b"\x07" * n)
    assert vault.seal("a.b", b"x") == vault.seal("a.b", b"x")


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_any_flipped_byte_is_a_vault_error(position: int) -> None:
    """Tampering with version, nonce, ciphertext or tag raises VaultError."""
    blob = bytearray(VAULT.seal("invitations.email", b"maija@example.fi"))
    blob[position] ^= 0x01
    with pytest.raises(VaultError):
        VAULT.open("invitations.email", bytes(blob))


def test_wrong_purpose_wrong_key_and_truncation_fail() -> None:
    """A blob moved to another column, opened with another key, or cut short does not open."""
    blob = VAULT.seal("invitations.phone", b"+358401234567")
    with pytest.raises(VaultError):
        VAULT.open("invitations.email", blob)
    with pytest.raises(VaultError):
        Vault(B, A, os.urandom).open("invitations.phone", blob)
    with pytest.raises(VaultError):
        VAULT.open("invitations.phone", blob[:20])


def test_vault_error_is_a_500_class_without_user_detail() -> None:
    """VaultError is an internal error: the middleware shows users nothing of it."""
    assert VaultError.status == 500


def test_keys_must_be_32_distinct_bytes_and_purpose_well_formed() -> None:
    """Misuse is refused up front."""
    with pytest.raises(ValueError, match="32 bytes"):
        Vault(b"short", B, os.urandom)
    with pytest.raises(ValueError, match="differ"):
        Vault(A, A, os.urandom)
    with pytest.raises(ValueError, match="purpose"):
        VAULT.seal("no dot", b"x")


def test_blind_index_is_keyed_normalised_and_purpose_bound() -> None:
    """Equal numbers in any format index equally; other key or purpose gives another index."""
    one = VAULT.phone_index("invitations.phone", "040 123 4567")
    assert one == VAULT.phone_index("invitations.phone", "+358401234567")
    assert one == VAULT.phone_index("invitations.phone", "00358-40-1234567")
    assert len(one) == 32
    assert one != VAULT.phone_index("accounts.phone", "+358401234567")
    assert one != Vault(A, bytes(32), os.urandom).phone_index("invitations.phone", "0401234567")
    assert VAULT.email_index("x.email", " Maija@Example.FI ") == VAULT.email_index(
        "x.email", "maija@example.fi")


def test_normalisation_rejects_garbage_with_typed_errors() -> None:
    """Unusable phone numbers and addresses are 422 validation errors, not crashes."""
    assert normalise_phone("(040) 123-4567") == "+358401234567"
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone("12")
    with pytest.raises(InvalidEmailAddress):
        normalise_email("not-an-address")
    assert InvalidPhoneNumber.status == 422
