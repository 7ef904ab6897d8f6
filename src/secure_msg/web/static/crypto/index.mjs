/** secure-msg protocol v1 in the browser: WebCrypto only, plain ES modules (docs/protocol.md). */
export { CODES, ProtocolError } from './errors.mjs';
export { fromBase64url, fromHex, toBase64url, toHex } from './encoding.mjs';
export { randomBytes } from './primitives.mjs';
export { AccountKeys, KeyBundle, parseKeyStatement, verifyKeyStatement } from './keys.mjs';
export { PBKDF2_ITERATIONS, PURPOSE, SALT_LENGTH, derivePasswordKeys, openBundle, sealBundle } from './bundle.mjs';
export { deriveRecoveryKeys, formatRecoveryKey, generateRecoverySecret, parseRecoveryKey } from './recovery.mjs';
export { KIND, KIND_NAMES, decodePayload, encodePayload } from './payload.mjs';
export { entryHash, headerHash, openEntry, openEntryWithKey, parseEntry, sealEntry, verifyEntry } from './envelope.mjs';
export { CONSENT, keyFingerprint, parseConsent, sealConsent, verifyConsent } from './consent.mjs';
export { openGrant, parseGrant, sealGrant, verifyGrant } from './grant.mjs';
export { checkQrPayload, encodeQrPayload, fingerprint, groupDigits, parseQrPayload, safetyNumber } from './safety.mjs';
export { KeyStore, indexedDbBackend, memoryBackend } from './keystore.mjs';
// file-stream.mjs is imported from itself, not re-exported here: the web inbox loads it only
// when a file is sent or opened (app/files-io.mjs), not with every screen that imports this.
export {
  ALLOWED_MEDIA_TYPES, INLINE_IMAGE_TYPES, checkAttachment, mediaTypeForName, mediaTypePolicy, normaliseMediaType,
  sanitiseFilename,
} from './file-meta.mjs';
export {
  checkInvitationSecret, checkMember, compactFingerprint, encodeFragment, invitationKeys, parseFragment, parseInvitation,
  parseRoster, signInvitation, signJoinProof, signRoster, verifyInvitation, verifyJoinProof, verifyRoster,
} from './roster.mjs';
