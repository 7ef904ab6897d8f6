/** Object prefix constants and domain-separation labels (docs/protocol.md §2). */
export const VERSION = 0x01;
export const SUITE = 0x0001;

export const TYPE = Object.freeze({
  KEY_STATEMENT: 0x01,
  KEY_BUNDLE: 0x02,
  SEALED_BUNDLE: 0x03,
  ENTRY: 0x11, // commits to its content key (§4.1); 0x10, which did not, is retired
  GRANT: 0x20,
  QR: 0x30,
  CLIENT_STATE: 0x40, // sealed to the account's own key, kept on the server (§6.5)
  FILE_BLOB: 0x50, // a file in chunks, named by a document entry (§4.7)
  ROSTER: 0x60, // the therapist's signed member list (§6.6)
  INVITATION: 0x61, // the invitation record she signs (§6.7)
  JOIN_PROOF: 0x62, // the joiner's proof of the invitation secret (§6.7)
  SHARE: 0x51, // a file's key sealed for someone outside the booklet (§4.8)
  CONSENT: 0x70, // a guardian's signed consent to a caregiver (§5.1)
});

export const LABEL = Object.freeze({
  KEY_STATEMENT: 'secure-msg/v1/key-statement',
  AUTH_KEY: 'secure-msg/v1/auth-key',
  BUNDLE_KEK: 'secure-msg/v1/bundle-kek',
  RECOVERY_AUTH: 'secure-msg/v1/recovery-auth',
  RECOVERY_KEK: 'secure-msg/v1/recovery-kek',
  ENTRY_HEADER: 'secure-msg/v1/entry-header',
  ENTRY_KEY: 'secure-msg/v1/entry-key',
  ENTRY_SIGNATURE: 'secure-msg/v1/entry-signature',
  ENTRY_HASH: 'secure-msg/v1/entry-hash',
  ENTRY_KEY_COMMITMENT: 'secure-msg/v1/entry-key-commitment',
  GRANT_KEY: 'secure-msg/v1/grant-key',
  GRANT_SIGNATURE: 'secure-msg/v1/grant-signature',
  FINGERPRINT: 'secure-msg/v1/fingerprint',
  SAFETY_NUMBER: 'secure-msg/v1/safety-number',
  CLIENT_STATE_KEY: 'secure-msg/v1/client-state-key',
  CONSENT_SIGNATURE: 'secure-msg/v1/consent-signature',
  FILE_CHUNK_KEY: 'secure-msg/v1/file-chunk-key',
  ROSTER_SIGNATURE: 'secure-msg/v1/roster-signature',
  INVITATION_SIGNATURE: 'secure-msg/v1/invitation-signature',
  JOIN_PROOF_SIGNATURE: 'secure-msg/v1/join-proof-signature',
  INVITATION_IDENTITY: 'secure-msg/v1/invitation-identity',
  INVITATION_ENCRYPTION: 'secure-msg/v1/invitation-encryption',
  INVITATION_ID: 'secure-msg/v1/invitation-id',
  SHARE_KEY: 'secure-msg/v1/share-key',
  SHARE_ACCESS: 'secure-msg/v1/share-access',
  SHARE_VERIFIER: 'secure-msg/v1/share-verifier',
  EXPORT_MANIFEST: 'secure-msg/v1/export-manifest', // the exporter's signature over an export (§11)
});

/**
 * The domain-separated input `label || 0x00 || parts…` for a hash, signature or KDF.
 * @param {string} label
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
export function labelled(label, ...parts) {
  // Kept free of imports so that encoding.mjs can import the prefix constants from here.
  const head = new TextEncoder().encode(`${label}\0`);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, head.length));
  out.set(head);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
