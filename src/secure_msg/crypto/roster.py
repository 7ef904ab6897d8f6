"""The therapist's signed roster (§6.6) and invitations that carry trust (§6.7).

A roster is the booklet's member list as the therapist's device signed it: account, identity
key, role and end date. A member's client seals without asking to everyone in a roster that its
pinned therapist signed, and refuses anyone the server lists outside it. An invitation is a
keypair derived from a secret in the link's fragment; the therapist signs its public key (the
invitation record) and seals the history to it (a §5 grant), and the joiner proves she holds the
secret by signing her own identity key with it (the join proof).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from . import labels
from .encoding import Reader, fixed, prefix, u8, u16, u64
from .errors import ProtocolError
from .keys import AccountKeys
from .primitives import ed25519_public, hkdf32, sha256, sign, verify

MAX_MEMBERS = 1024
MAX_VERSION = 2**53 - 1  # carried as a JSON number by the HTTP API
ROLES = {1: "therapist", 2: "guardian", 3: "caregiver"}
ROLE_IDS = {v: k for k, v in ROLES.items()}
MEMBER_LEN = 57
INVITATION_LEN = 173
JOIN_PROOF_LEN = 164
SECRET_LEN = 32


@dataclass(frozen=True, order=True)
class RosterMember:
    account_id: bytes
    identity_key: bytes
    role: str
    until: int = 0  # ms; 0 = no end date

    def encode(self) -> bytes:
        if self.role not in ROLE_IDS:
            raise ValueError(f"unknown role {self.role!r}")
        return (fixed(self.account_id, 16, "account_id")
                + fixed(self.identity_key, 32, "identity_key")
                + u8(ROLE_IDS[self.role]) + u64(self.until))


@dataclass(frozen=True)
class Roster:
    booklet_id: bytes
    therapist_id: bytes
    version: int
    created_at: int
    members: tuple[RosterMember, ...]
    signed_part: bytes
    signature: bytes

    def member(self, account_id: bytes) -> RosterMember | None:
        return next((m for m in self.members if m.account_id == account_id), None)


def parse_roster(data: bytes) -> Roster:
    r = Reader(data)
    r.prefix(labels.TYPE_ROSTER)
    booklet_id, therapist_id, version, created_at = r.take(16), r.take(16), r.u64(), r.u64()
    if not 1 <= version <= MAX_VERSION:
        raise ProtocolError("malformed", "roster version")
    count = r.u16()
    if not 1 <= count <= MAX_MEMBERS:
        raise ProtocolError("bad-member-count")
    members = []
    for _ in range(count):
        account_id, ik, role, until = r.take(16), r.take(32), r.u8(), r.u64()
        if role not in ROLES:
            raise ProtocolError("malformed", "roster role")
        members.append(RosterMember(account_id, ik, ROLES[role], until))
    signed_len = r.position
    signature = r.take(64)
    r.end()
    if any(a.account_id >= b.account_id for a, b in pairwise(members)):
        raise ProtocolError("members-not-canonical")
    therapists = [m for m in members if m.role == "therapist"]
    if len(therapists) != 1 or therapists[0].account_id != therapist_id:
        raise ProtocolError("malformed", "a roster lists its signer as its one therapist")
    return Roster(booklet_id, therapist_id, version, created_at, tuple(members),
                  bytes(data[:signed_len]), signature)


def sign_roster(therapist: AccountKeys, *, booklet_id: bytes, version: int, created_at: int,
                members: Iterable[RosterMember]) -> bytes:
    """`members` in any order; the therapist herself must be among them, as therapist."""
    ordered = sorted(members)
    if not 1 <= len(ordered) <= MAX_MEMBERS or not 1 <= version <= MAX_VERSION:
        raise ValueError("a roster has 1 to 1024 members and a version from 1 to 2^53 - 1")
    unsigned = b"".join([
        prefix(labels.TYPE_ROSTER), fixed(booklet_id, 16, "booklet_id"), therapist.account_id,
        u64(version), u64(created_at), u16(len(ordered)), *(m.encode() for m in ordered),
    ])
    blob = unsigned + sign(therapist.identity, labels.ROSTER_SIGNATURE, unsigned)
    parse_roster(blob)  # never write what a reader refuses (two therapists, repeated ids)
    return blob


def verify_roster(data: bytes, *, therapist_identity_key: bytes, booklet_id: bytes,
                  therapist_id: bytes, highest_seen: int = 0) -> Roster:
    """A reader's check, in the order of §6.6: layout, signature under the therapist's pinned
    key, booklet, signer, the signer's own entry, then the version against the highest seen."""
    ros = parse_roster(data)
    verify(therapist_identity_key, ros.signature, labels.ROSTER_SIGNATURE, ros.signed_part)
    if ros.booklet_id != booklet_id:
        raise ProtocolError("wrong-booklet")
    if ros.therapist_id != therapist_id:
        raise ProtocolError("wrong-author")
    own = ros.member(therapist_id)
    assert own is not None  # parse_roster checked it
    if own.identity_key != therapist_identity_key:
        raise ProtocolError("roster-key-mismatch", "the therapist's own entry")
    if ros.version < highest_seen:
        raise ProtocolError("roster-rolled-back")
    return ros


def check_member(ros: Roster, *, account_id: bytes, identity_key: bytes, role: str,
                 now_ms: int) -> RosterMember:
    """Whether a listed member is the one the roster names (§6.6 "Members")."""
    m = ros.member(account_id)
    if m is None:
        raise ProtocolError("not-in-roster")
    if m.identity_key != identity_key:
        raise ProtocolError("roster-key-mismatch")
    if m.role != role:
        raise ProtocolError("roster-role-mismatch")
    if m.until and m.until <= now_ms:
        raise ProtocolError("roster-expired")
    return m


# -- invitations (§6.7) -------------------------------------------------------------------------


def invitation_id(invitation_ik: bytes) -> bytes:
    """The invitation's 16-byte id: the grantee id of its history grant."""
    return sha256(labels.INVITATION_ID, fixed(invitation_ik, 32, "invitation_ik"))[:16]


def invitation_keys(secret: bytes) -> AccountKeys:
    """The invitation keypair from the link's secret, as the account keys of a grantee whose
    account id is the invitation id, so that §5's grant opens with it unchanged."""
    seed = hkdf32(fixed(secret, SECRET_LEN, "invitation secret"), labels.INVITATION_IDENTITY)
    enc = hkdf32(secret, labels.INVITATION_ENCRYPTION)
    ik = AccountKeys.from_secrets(bytes(16), seed, enc).identity_public
    return AccountKeys.from_secrets(invitation_id(ik), seed, enc)


@dataclass(frozen=True)
class Invitation:
    booklet_id: bytes
    therapist_id: bytes
    invitation_ik: bytes
    invitation_ek: bytes
    role: str
    created_at: int
    signed_part: bytes
    signature: bytes

    @property
    def id(self) -> bytes:
        return invitation_id(self.invitation_ik)


def sign_invitation(therapist: AccountKeys, *, booklet_id: bytes, invitation: AccountKeys,
                    role: str, created_at: int) -> bytes:
    if role not in ("guardian", "caregiver"):
        raise ValueError("an invitation is for a guardian or a caregiver")
    unsigned = b"".join([
        prefix(labels.TYPE_INVITATION), fixed(booklet_id, 16, "booklet_id"),
        therapist.account_id, invitation.identity_public, invitation.encryption_public,
        u8(ROLE_IDS[role]), u64(created_at),
    ])
    return unsigned + sign(therapist.identity, labels.INVITATION_SIGNATURE, unsigned)


def parse_invitation(data: bytes) -> Invitation:
    r = Reader(data)
    r.prefix(labels.TYPE_INVITATION)
    booklet_id, therapist_id, ik, ek, role = r.take(16), r.take(16), r.take(32), r.take(32), r.u8()
    created_at = r.u64()
    signature = r.take(64)
    r.end()
    if role not in (2, 3):
        raise ProtocolError("malformed", "an invitation is for a guardian or a caregiver")
    return Invitation(booklet_id, therapist_id, ik, ek, ROLES[role], created_at,
                      bytes(data[:INVITATION_LEN - 64]), signature)


def verify_invitation(data: bytes, *, therapist_identity_key: bytes, booklet_id: bytes,
                      therapist_id: bytes) -> Invitation:
    inv = parse_invitation(data)
    verify(therapist_identity_key, inv.signature, labels.INVITATION_SIGNATURE, inv.signed_part)
    if inv.booklet_id != booklet_id:
        raise ProtocolError("wrong-booklet")
    if inv.therapist_id != therapist_id:
        raise ProtocolError("wrong-author")
    ed25519_public(inv.invitation_ik)  # a small-order key would accept forged join proofs
    return inv


def check_invitation_secret(inv: Invitation, keys: AccountKeys) -> None:
    """The joiner's check that the signed record is the invitation her link's secret makes."""
    if (inv.invitation_ik, inv.invitation_ek) != (keys.identity_public, keys.encryption_public):
        raise ProtocolError("invitation-mismatch")


def sign_join_proof(invitation: AccountKeys, *, booklet_id: bytes, member_id: bytes,
                    member_ik: bytes) -> bytes:
    unsigned = b"".join([
        prefix(labels.TYPE_JOIN_PROOF), fixed(booklet_id, 16, "booklet_id"),
        invitation.identity_public, fixed(member_id, 16, "member_id"),
        fixed(member_ik, 32, "member_ik"),
    ])
    return unsigned + sign(invitation.identity, labels.JOIN_PROOF_SIGNATURE, unsigned)


@dataclass(frozen=True)
class JoinProof:
    booklet_id: bytes
    invitation_ik: bytes
    member_id: bytes
    member_ik: bytes
    signed_part: bytes
    signature: bytes


def parse_join_proof(data: bytes) -> JoinProof:
    r = Reader(data)
    r.prefix(labels.TYPE_JOIN_PROOF)
    fields = (r.take(16), r.take(32), r.take(16), r.take(32))
    signature = r.take(64)
    r.end()
    return JoinProof(*fields, bytes(data[:JOIN_PROOF_LEN - 64]), signature)


def verify_join_proof(data: bytes, inv: Invitation, *, member_id: bytes,
                      member_ik: bytes) -> JoinProof:
    """`inv` already verified (`verify_invitation`): the proof is by its key, for this member."""
    proof = parse_join_proof(data)
    if proof.invitation_ik != inv.invitation_ik:
        raise ProtocolError("invitation-mismatch")
    verify(inv.invitation_ik, proof.signature, labels.JOIN_PROOF_SIGNATURE, proof.signed_part)
    if proof.booklet_id != inv.booklet_id:
        raise ProtocolError("wrong-booklet")
    if proof.member_id != member_id:
        raise ProtocolError("account-mismatch")
    if proof.member_ik != member_ik:
        raise ProtocolError("roster-key-mismatch", "the proof names another key")
    return proof


# -- the link's fragment (§6.7) -----------------------------------------------------------------

VIA = ("qr", "link")  # scanned from the therapist's screen at a meeting / any other way


@dataclass(frozen=True)
class Fragment:
    secret: bytes
    therapist_fingerprint: str  # 32 lowercase hex digits, §6.1 without spaces
    via: str

    def encode(self) -> str:
        secret = base64.urlsafe_b64encode(self.secret).rstrip(b"=").decode("ascii")
        return f"i={secret}&f={self.therapist_fingerprint}&via={self.via}"


def parse_fragment(text: str) -> Fragment:
    """The part after `#` (a leading `#` is allowed). Exactly the three members, in any order."""
    fields: dict[str, str] = {}
    for part in text.removeprefix("#").split("&"):
        name, eq, value = part.partition("=")
        if not eq or name in fields:
            raise ProtocolError("malformed", "invitation fragment")
        fields[name] = value
    if set(fields) != {"i", "f", "via"} or fields["via"] not in VIA:
        raise ProtocolError("malformed", "invitation fragment")
    secret_text, fp = fields["i"], fields["f"]
    if (len(secret_text) != 43 or set(secret_text) - _B64URL
            or len(fp) != 32 or set(fp) - set("0123456789abcdef")):
        raise ProtocolError("malformed", "invitation fragment")
    secret = base64.urlsafe_b64decode(secret_text + "=")
    return Fragment(secret, fp, fields["via"])


_B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
