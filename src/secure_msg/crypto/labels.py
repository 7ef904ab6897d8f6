"""Domain-separation labels (docs/protocol.md §2). Every input is `label || 0x00 || data`."""

from __future__ import annotations

VERSION = 0x01
SUITE = 0x0001

TYPE_KEY_STATEMENT = 0x01
TYPE_KEY_BUNDLE = 0x02
TYPE_SEALED_BUNDLE = 0x03
TYPE_ENTRY = 0x11  # 0x10, the same without key commitment, is retired (protocol §4.1)
TYPE_GRANT = 0x20
TYPE_QR = 0x30
TYPE_CLIENT_STATE = 0x40
TYPE_FILE_BLOB = 0x50
TYPE_ROSTER = 0x60
TYPE_INVITATION = 0x61
TYPE_JOIN_PROOF = 0x62
TYPE_SHARE = 0x51
TYPE_CONSENT = 0x70

KEY_STATEMENT = b"secure-msg/v1/key-statement"
AUTH_KEY = b"secure-msg/v1/auth-key"
BUNDLE_KEK = b"secure-msg/v1/bundle-kek"
RECOVERY_AUTH = b"secure-msg/v1/recovery-auth"
RECOVERY_KEK = b"secure-msg/v1/recovery-kek"
ENTRY_HEADER = b"secure-msg/v1/entry-header"
ENTRY_KEY = b"secure-msg/v1/entry-key"
ENTRY_SIGNATURE = b"secure-msg/v1/entry-signature"
ENTRY_HASH = b"secure-msg/v1/entry-hash"
ENTRY_KEY_COMMITMENT = b"secure-msg/v1/entry-key-commitment"
GRANT_KEY = b"secure-msg/v1/grant-key"
GRANT_SIGNATURE = b"secure-msg/v1/grant-signature"
FINGERPRINT = b"secure-msg/v1/fingerprint"
SAFETY_NUMBER = b"secure-msg/v1/safety-number"
CLIENT_STATE_KEY = b"secure-msg/v1/client-state-key"
CONSENT_SIGNATURE = b"secure-msg/v1/consent-signature"
FILE_CHUNK_KEY = b"secure-msg/v1/file-chunk-key"
ROSTER_SIGNATURE = b"secure-msg/v1/roster-signature"
INVITATION_SIGNATURE = b"secure-msg/v1/invitation-signature"
JOIN_PROOF_SIGNATURE = b"secure-msg/v1/join-proof-signature"
INVITATION_IDENTITY = b"secure-msg/v1/invitation-identity"
INVITATION_ENCRYPTION = b"secure-msg/v1/invitation-encryption"
INVITATION_ID = b"secure-msg/v1/invitation-id"
SHARE_KEY = b"secure-msg/v1/share-key"
SHARE_ACCESS = b"secure-msg/v1/share-access"
SHARE_VERIFIER = b"secure-msg/v1/share-verifier"
EXPORT_MANIFEST = b"secure-msg/v1/export-manifest"  # the exporter's signature (§11)


def labelled(label: bytes, *parts: bytes) -> bytes:
    """The domain-separated input for a hash, signature or KDF."""
    return b"".join((label, b"\x00", *parts))
