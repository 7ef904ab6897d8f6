"""Account-level behaviour: password keys, bundles, recovery keys, the Argon2id verifier."""

from __future__ import annotations

import random

import pytest

from secure_msg.crypto import keys, recovery, verifier
from secure_msg.crypto.errors import ProtocolError


def test_nfc_normalisation_makes_composed_and_decomposed_passwords_equal() -> None:
    """'Ä' typed as one code point or as A + combining diaeresis derives the same keys."""
    salt = b"s" * 16
    assert keys.derive_password_keys("\u00c4iti", salt) == keys.derive_password_keys(
        "A\u0308iti", salt
    )


def test_auth_key_and_kek_are_independent() -> None:
    """The auth key the server sees differs from the key that wraps the bundle."""
    pw = keys.derive_password_keys("pw", b"s" * 16)
    assert pw.auth_key != pw.kek


# Fixed "random" secrets: the same in every run (and in every pytest-xdist worker, which must
# collect the same tests), so a failure can be run again.
_SECRETS = [random.Random(i).randbytes(20) for i in range(4)] + [bytes(20), b"\xff" * 20]


@pytest.mark.parametrize("secret", _SECRETS, ids=[s.hex()[:8] for s in _SECRETS])
def test_every_single_typo_and_neighbour_swap_of_a_recovery_key_is_caught(secret: bytes) -> None:
    """Any one character changed, or two neighbours swapped, is refused (not a 2^-20 chance)."""
    text = recovery.format_recovery_key(secret).replace("-", "")
    wrong = []
    for i, ch in enumerate(text):
        wrong += [text[:i] + other + text[i + 1 :] for other in recovery.ALPHABET if other != ch]
        if i + 1 < len(text) and ch != text[i + 1]:
            wrong.append(text[:i] + text[i + 1] + ch + text[i + 2 :])
    for typo in wrong:
        with pytest.raises(ProtocolError) as err:
            recovery.parse_recovery_key(typo)
        assert err.value.code == "recovery-key-checksum"


def test_argon2id_verifier_accepts_only_the_right_auth_key() -> None:
    """The stored verifier checks the right auth key and refuses a wrong one."""
    params = verifier.MIN_PARAMS
    stored = verifier.hash_secret(b"a" * 32, params)
    assert b"$argon2id$" in stored
    assert verifier.check_secret(stored, b"a" * 32)
    assert not verifier.check_secret(stored, b"b" * 32)


def test_argon2id_refuses_parameters_below_owasp_minimum() -> None:
    """Parameters under 19 MiB / t=2 are refused rather than silently used."""
    with pytest.raises(ValueError, match="OWASP"):
        verifier.hash_secret(b"x", verifier.Argon2Params(ops=1, mem_bytes=19 * 1024 * 1024))


def test_key_statement_binds_its_encryption_key() -> None:
    """A statement whose EK was swapped for another account's fails its signature."""
    a, b = keys.AccountKeys.generate(b"\x01" * 16), keys.AccountKeys.generate(b"\x02" * 16)
    st = a.statement(1)
    swapped = keys.KeyStatement(st.account_id, st.identity_key, b.encryption_public,
                                st.created_at, st.signature)
    with pytest.raises(ProtocolError) as err:
        keys.KeyStatement.parse(swapped.encode()).verify()
    assert err.value.code == "bad-signature"
