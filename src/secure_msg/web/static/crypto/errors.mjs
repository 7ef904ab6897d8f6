/** The protocol's one error type; its stable codes are listed in docs/protocol.md §7. */

/** @type {ReadonlySet<string>} */
export const CODES = new Set([
  'truncated', 'trailing-data', 'unsupported-version', 'unsupported-suite', 'wrong-type',
  'malformed', 'unknown-kind', 'bad-recipient-count', 'recipients-not-canonical', 'bad-signature',
  'wrong-author', 'wrong-booklet', 'recipient-set-mismatch', 'not-a-recipient', 'unwrap-failed',
  'decrypt-failed', 'bad-payload', 'bad-item-count', 'items-not-canonical', 'wrong-grantee',
  'grantee-key-mismatch', 'unknown-entry', 'entry-hash-mismatch', 'key-commitment-mismatch', 'wrong-purpose',
  'bundle-decrypt-failed', 'account-mismatch', 'bundle-key-mismatch', 'identity-key-changed',
  'weak-kdf-params', 'recovery-key-malformed', 'recovery-key-checksum', 'invalid-key', 'qr-mismatch',
  'state-decrypt-failed', 'wrong-caregiver', 'caregiver-key-mismatch', 'terms-mismatch', 'wrong-action',
  // file blobs (§4.7)
  'file-truncated', 'file-extended', 'file-chunk-order', 'file-chunk-invalid', 'file-wrong-file',
  'file-hash-mismatch',
  // signed rosters and invitations (§6.6, §6.7)
  'bad-member-count', 'members-not-canonical', 'not-in-roster', 'roster-key-mismatch',
  'roster-role-mismatch', 'roster-expired', 'roster-rolled-back', 'invitation-mismatch',
  // shares (§4.8)
  'share-link-malformed', 'share-code-malformed', 'share-decrypt-failed',
]);

/** A failed protocol check. Carries a stable `code` and a short text, never secret material. */
export class ProtocolError extends Error {
  /**
   * @param {string} code one of CODES
   * @param {string} [detail]
   */
  constructor(code, detail = '') {
    // A typo here would silently create an undocumented error code.
    if (!CODES.has(code)) throw new Error(`unknown protocol error code ${code}`);
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'ProtocolError';
    /** @type {string} */
    this.code = code;
  }
}
