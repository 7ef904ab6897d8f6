/** Password-derived keys and the sealed key bundle (docs/protocol.md §3.3, §3.5). */
import { Reader, Writer, bytes, equal, utf8 } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { LABEL, TYPE } from './labels.mjs';
import { AccountKeys, KeyBundle } from './keys.mjs';
import { aesGcmDecrypt, aesGcmEncrypt, draw, hkdf, randomBytes } from './primitives.mjs';

/** @typedef {import('./primitives.mjs').Rng} Rng */

export const PBKDF2_ITERATIONS = 600000;
export const SALT_LENGTH = 16;
export const PURPOSE = Object.freeze({ PASSWORD: 0x01, RECOVERY: 0x02 });
const SEALED_CT_LENGTH = 84 + 16;

/**
 * @typedef {object} KdfParams the server's pre-login answer
 * @property {string} [kdf] "pbkdf2-sha256"
 * @property {number} iterations
 * @property {Uint8Array} salt
 */

/**
 * The login auth key and the bundle KEK from a password. Refuses parameters weaker than v1's so a
 * server cannot downgrade them (`weak-kdf-params`).
 * @param {string} password
 * @param {KdfParams} params
 * @returns {Promise<{authKey: Uint8Array, kek: Uint8Array}>}
 */
export async function derivePasswordKeys(password, { kdf = 'pbkdf2-sha256', iterations, salt }) {
  const ok = kdf === 'pbkdf2-sha256' && Number.isSafeInteger(iterations) && iterations >= PBKDF2_ITERATIONS
    && (salt instanceof Uint8Array) && salt.length === SALT_LENGTH;
  if (!ok || typeof password !== 'string') throw new ProtocolError('weak-kdf-params');
  const subtle = globalThis.crypto.subtle;
  const base = await subtle.importKey('raw', utf8.encode(password.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
  const params = { name: 'PBKDF2', hash: 'SHA-256', salt, iterations };
  const master = new Uint8Array(await subtle.deriveBits(params, base, 256));
  try {
    return { authKey: await hkdf(master, LABEL.AUTH_KEY), kek: await hkdf(master, LABEL.BUNDLE_KEK) };
  } finally {
    master.fill(0);
  }
}

/**
 * Seal a key bundle under a KEK (password or recovery). @param {KeyBundle} bundle
 * @param {Uint8Array} kek @param {number} purpose PURPOSE.* @param {Rng} [rng] for the nonce
 * @returns {Promise<Uint8Array>} 137 bytes
 */
export async function sealBundle(bundle, kek, purpose, rng = randomBytes) {
  const nonce = draw(rng, 12);
  const writer = new Writer(TYPE.SEALED_BUNDLE).fixed(bundle.accountId, 16).u8(purpose).raw(nonce);
  const aad = writer.finish();
  const plain = bundle.encode();
  try {
    const ct = await aesGcmEncrypt(bytes(kek, 32), nonce, plain, aad);
    return writer.u32(ct.length).raw(ct).finish();
  } finally {
    plain.fill(0);
  }
}

/**
 * Open a sealed bundle with every check of §3.5, in order, ending with the comparison of both
 * derived public keys with the account's verified key statement (`bundle-key-mismatch`).
 *
 * `statement` may be left out only when the caller cannot have it yet. Then every check runs
 * except that final comparison, and the caller MUST compare the keys with the verified
 * statement before the keys are trusted or used. (Recovery has it: /api/recovery/bundle answers
 * with the account's statement beside the bundle.)
 * @param {Uint8Array} data
 * @param {Uint8Array} kek
 * @param {{purpose: number, statement?: {identityKey: Uint8Array, encryptionKey: Uint8Array}}} expect
 * @returns {Promise<{bundle: KeyBundle, keys: AccountKeys}>} wipe the bundle once it is stored
 */
export async function openBundle(data, kek, { purpose, statement }) {
  const r = new Reader(data, TYPE.SEALED_BUNDLE);
  const accountId = r.take(16);
  const gotPurpose = r.u8();
  const nonce = r.take(12);
  const aad = r.consumed();
  if (r.u32() !== SEALED_CT_LENGTH) throw new ProtocolError('malformed', 'sealed bundle length');
  const ct = r.take(SEALED_CT_LENGTH);
  r.end();
  if (gotPurpose !== purpose) throw new ProtocolError('wrong-purpose');
  const plain = await aesGcmDecrypt(bytes(kek, 32), nonce, ct, aad, 'bundle-decrypt-failed');
  const bundle = KeyBundle.parse(plain);
  plain.fill(0);
  if (!equal(bundle.accountId, accountId)) {
    bundle.wipe();
    throw new ProtocolError('account-mismatch');
  }
  const keys = await AccountKeys.fromBundle(bundle);
  if (statement === undefined) return { bundle, keys }; // the caller compares later (see above)
  if (!equal(keys.identityPublic, statement.identityKey) || !equal(keys.encryptionPublic, statement.encryptionKey)) {
    bundle.wipe();
    throw new ProtocolError('bundle-key-mismatch');
  }
  return { bundle, keys };
}
