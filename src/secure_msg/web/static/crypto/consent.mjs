/** Guardian consent records (docs/protocol.md §5.1): a guardian's signed yes, or withdrawal, to one caregiver joining one booklet until a time, with a scope. */
import { Reader, Writer, bytes, concat, equal } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { LABEL, TYPE } from './labels.mjs';
import { sha256, sign, verify } from './primitives.mjs';

/** @typedef {import('./keys.mjs').AccountKeys} AccountKeys */

export const CONSENT = Object.freeze({ APPROVE: 1, WITHDRAW: 2, SCOPE_NEW: 1, SCOPE_HISTORY: 2 });

/**
 * @typedef {object} Consent
 * @property {number} action
 * @property {Uint8Array} bookletId
 * @property {Uint8Array} guardianId
 * @property {Uint8Array} caregiverId
 * @property {Uint8Array} caregiverFingerprint
 * @property {number} until ms
 * @property {number} scope
 * @property {number} createdAt ms
 * @property {Uint8Array} signedPart
 * @property {Uint8Array} signature
 */

/** The 16 bytes behind the §6.1 fingerprint. @param {Uint8Array} identityKey */
export async function keyFingerprint(identityKey) {
  return (await sha256(LABEL.FINGERPRINT, bytes(identityKey, 32, 'invalid-key'))).slice(0, 16);
}

/** Layout only; the signature is not checked. @param {Uint8Array} data @returns {Consent} */
export function parseConsent(data) {
  const r = new Reader(data, TYPE.CONSENT);
  const action = r.u8();
  const head = { bookletId: r.take(16), guardianId: r.take(16), caregiverId: r.take(16), caregiverFingerprint: r.take(16) };
  const until = r.u64();
  const scope = r.u8();
  const createdAt = r.u64();
  const signedPart = r.consumed();
  const signature = r.take(64);
  r.end();
  if (action !== CONSENT.APPROVE && action !== CONSENT.WITHDRAW) throw new ProtocolError('malformed', 'action');
  if (scope !== CONSENT.SCOPE_NEW && scope !== CONSENT.SCOPE_HISTORY) throw new ProtocolError('malformed', 'scope');
  return { action, ...head, until, scope, createdAt, signedPart, signature };
}

/**
 * @param {AccountKeys} guardian
 * @param {{action: number, bookletId: Uint8Array, caregiverId: Uint8Array, caregiverIdentityKey: Uint8Array, until: number, scope: number, createdAt: number}} terms
 * @returns {Promise<Uint8Array>}
 */
export async function sealConsent(guardian, { action, bookletId, caregiverId, caregiverIdentityKey, until, scope, createdAt }) {
  if (![1, 2].includes(action) || ![1, 2].includes(scope)) throw new ProtocolError('malformed', 'action and scope are 1 or 2');
  const unsigned = new Writer(TYPE.CONSENT).u8(action).fixed(bookletId, 16).fixed(guardian.accountId, 16)
    .fixed(caregiverId, 16).raw(await keyFingerprint(caregiverIdentityKey)).u64(until).u8(scope).u64(createdAt).finish();
  return concat(unsigned, await sign(guardian.identity.privateKey, LABEL.CONSENT_SIGNATURE, unsigned));
}

/**
 * Every check of §5.1 in its order. `until` and `scope` are the invitation's terms; leave them
 * out for a withdrawal (any terms withdraw).
 * @param {Uint8Array} data
 * @param {{guardianIdentityKey: Uint8Array, action: number, bookletId: Uint8Array, guardianId: Uint8Array, caregiverId: Uint8Array, caregiverIdentityKey: Uint8Array, until?: number | null, scope?: number | null}} expect
 * @returns {Promise<Consent>}
 */
export async function verifyConsent(data, { guardianIdentityKey, action, bookletId, guardianId, caregiverId, caregiverIdentityKey, until = null, scope = null }) {
  const c = parseConsent(data);
  await verify(guardianIdentityKey, c.signature, LABEL.CONSENT_SIGNATURE, c.signedPart);
  if (c.action !== action) throw new ProtocolError('wrong-action');
  if (!equal(c.bookletId, bytes(bookletId, 16))) throw new ProtocolError('wrong-booklet');
  if (!equal(c.guardianId, bytes(guardianId, 16))) throw new ProtocolError('wrong-author');
  if (!equal(c.caregiverId, bytes(caregiverId, 16))) throw new ProtocolError('wrong-caregiver');
  if (!equal(c.caregiverFingerprint, await keyFingerprint(caregiverIdentityKey))) throw new ProtocolError('caregiver-key-mismatch');
  if ((until !== null && c.until !== until) || (scope !== null && c.scope !== scope)) throw new ProtocolError('terms-mismatch');
  return c;
}
