"""Guardian consent records (§5.1): a guardian's signed yes (or withdrawal) to one caregiver
joining one booklet under stated terms, until a time and with a scope."""

from __future__ import annotations

from dataclasses import dataclass

from . import labels
from .encoding import Reader, fixed, prefix, u8, u64
from .errors import ProtocolError
from .keys import AccountKeys
from .primitives import sha256, sign, verify

APPROVE = 1
WITHDRAW = 2
SCOPE_NEW = 1  # the entries posted while the caregiver is a member
SCOPE_HISTORY = 2  # also earlier ones a member grants (a history grant, §5)
LENGTH = 150
SIGNED_LENGTH = 86


def key_fingerprint(identity_key: bytes) -> bytes:
    """The 16 bytes behind the §6.1 fingerprint: the caregiver key the guardian consents to."""
    return sha256(labels.FINGERPRINT, fixed(identity_key, 32, "identity key"))[:16]


@dataclass(frozen=True)
class Consent:
    action: int
    booklet_id: bytes
    guardian_id: bytes
    caregiver_id: bytes
    caregiver_fingerprint: bytes
    until: int
    scope: int
    created_at: int
    signed_part: bytes
    signature: bytes


def parse_consent(data: bytes) -> Consent:
    """Layout only: the signature is not checked."""
    r = Reader(data)
    r.prefix(labels.TYPE_CONSENT)
    action = r.u8()
    booklet_id, guardian_id, caregiver_id, fp = r.take(16), r.take(16), r.take(16), r.take(16)
    until, scope, created_at = r.u64(), r.u8(), r.u64()
    signature = r.take(64)
    r.end()
    if action not in (APPROVE, WITHDRAW):
        raise ProtocolError("malformed", "action")
    if scope not in (SCOPE_NEW, SCOPE_HISTORY):
        raise ProtocolError("malformed", "scope")
    return Consent(action, booklet_id, guardian_id, caregiver_id, fp, until, scope, created_at,
                   bytes(data[:SIGNED_LENGTH]), signature)


def seal_consent(
    guardian: AccountKeys, *, action: int, booklet_id: bytes, caregiver_id: bytes,
    caregiver_identity_key: bytes, until: int, scope: int, created_at: int,
) -> bytes:
    if action not in (APPROVE, WITHDRAW) or scope not in (SCOPE_NEW, SCOPE_HISTORY):
        raise ValueError("action and scope are 1 or 2")
    unsigned = b"".join((
        prefix(labels.TYPE_CONSENT), u8(action), fixed(booklet_id, 16, "booklet_id"),
        guardian.account_id, fixed(caregiver_id, 16, "caregiver_id"),
        key_fingerprint(caregiver_identity_key), u64(until), u8(scope), u64(created_at),
    ))
    return unsigned + sign(guardian.identity, labels.CONSENT_SIGNATURE, unsigned)


def verify_consent(
    data: bytes, *, guardian_identity_key: bytes, action: int, booklet_id: bytes,
    guardian_id: bytes, caregiver_id: bytes, caregiver_identity_key: bytes,
    until: int | None = None, scope: int | None = None,
) -> Consent:
    """Every check of §5.1, in its order. `until` and `scope` are the invitation's terms (a
    withdrawal names them too, but any terms withdraw: pass None)."""
    c = parse_consent(data)
    verify(guardian_identity_key, c.signature, labels.CONSENT_SIGNATURE, c.signed_part)
    if c.action != action:
        raise ProtocolError("wrong-action")
    if c.booklet_id != booklet_id:
        raise ProtocolError("wrong-booklet")
    if c.guardian_id != guardian_id:
        raise ProtocolError("wrong-author")
    if c.caregiver_id != caregiver_id:
        raise ProtocolError("wrong-caregiver")
    if c.caregiver_fingerprint != key_fingerprint(caregiver_identity_key):
        raise ProtocolError("caregiver-key-mismatch")
    if (until is not None and c.until != until) or (scope is not None and c.scope != scope):
        raise ProtocolError("terms-mismatch")
    return c
