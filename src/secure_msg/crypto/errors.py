"""The protocol library's one error type; its stable codes are listed in docs/protocol.md §7."""

from __future__ import annotations

CODES = frozenset(
    {
        "truncated",
        "trailing-data",
        "unsupported-version",
        "unsupported-suite",
        "wrong-type",
        "malformed",
        "unknown-kind",
        "bad-recipient-count",
        "recipients-not-canonical",
        "bad-signature",
        "wrong-author",
        "wrong-booklet",
        "recipient-set-mismatch",
        "not-a-recipient",
        "unwrap-failed",
        "decrypt-failed",
        "bad-payload",
        "bad-item-count",
        "items-not-canonical",
        "wrong-grantee",
        "grantee-key-mismatch",
        "unknown-entry",
        "entry-hash-mismatch",
        "key-commitment-mismatch",
        "wrong-purpose",
        "bundle-decrypt-failed",
        "account-mismatch",
        "bundle-key-mismatch",
        "identity-key-changed",
        "weak-kdf-params",
        "recovery-key-malformed",
        "recovery-key-checksum",
        "invalid-key",
        "qr-mismatch",
        "state-decrypt-failed",
        "wrong-caregiver",
        "caregiver-key-mismatch",
        "terms-mismatch",
        "wrong-action",
        # file blobs (§4.7)
        "file-truncated",
        "file-extended",
        "file-chunk-order",
        "file-chunk-invalid",
        "file-wrong-file",
        "file-hash-mismatch",
        # signed rosters and invitations (§6.6, §6.7)
        "bad-member-count",
        "members-not-canonical",
        "not-in-roster",
        "roster-key-mismatch",
        "roster-role-mismatch",
        "roster-expired",
        "roster-rolled-back",
        "invitation-mismatch",
        # shares (§4.8)
        "share-link-malformed",
        "share-code-malformed",
        "share-decrypt-failed",
    }
)


class ProtocolError(Exception):
    """A failed protocol check. Carries no secret material, only a stable code and a short text."""

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in CODES:  # a typo here would silently create an undocumented error
            raise ValueError(f"unknown protocol error code {code!r}")
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
