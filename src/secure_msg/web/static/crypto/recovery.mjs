/** The printed recovery key: 160 random bits in Crockford base32 and a check value (§3.4). */
import { bytes } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { LABEL } from './labels.mjs';
import { draw, hkdf, randomBytes } from './primitives.mjs';

/** @typedef {import('./primitives.mjs').Rng} Rng */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SECRET_LENGTH = 20;

/** @param {bigint} value @param {number} chars */
function base32(value, chars) {
  let out = '';
  for (let i = chars - 1; i >= 0; i--) out += ALPHABET[Number((value >> BigInt(5 * i)) & 31n)];
  return out;
}

/** @param {Uint8Array} b */
const toBigInt = (b) => b.reduce((v, x) => (v << 8n) | BigInt(x), 0n);

/**
 * The largest prime below 2^20. A one-character substitution changes the value by d·32^k and
 * swapping two neighbours by (a-b)·31·32^k; the prime divides neither, so both always show.
 */
const CHECK_PRIME = 1048573n;

/** Four characters: the secret modulo CHECK_PRIME. @param {Uint8Array} secret */
async function checksum(secret) {
  return base32(toBigInt(secret) % CHECK_PRIME, 4);
}

/** @param {Rng} [rng] @returns {Uint8Array} 20 bytes */
export function generateRecoverySecret(rng = randomBytes) {
  return draw(rng, SECRET_LENGTH);
}

/** `XXXX-XXXX-…`, nine groups of four. @param {Uint8Array} secret 20 bytes */
export async function formatRecoveryKey(secret) {
  const s = bytes(secret, SECRET_LENGTH);
  const text = base32(toBigInt(s), 32) + (await checksum(s));
  return text.match(/.{4}/g).join('-');
}

/**
 * Forgiving of case, whitespace, dashes and I/L/O typed for 1/0; any other defect is
 * `recovery-key-malformed`, a wrong checksum `recovery-key-checksum`.
 * @param {string} text
 * @returns {Promise<Uint8Array>} the 20-byte secret
 */
export async function parseRecoveryKey(text) {
  if (typeof text !== 'string') throw new ProtocolError('recovery-key-malformed');
  const cleaned = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (cleaned.length !== 36 || [...cleaned].some((c) => !ALPHABET.includes(c))) {
    throw new ProtocolError('recovery-key-malformed');
  }
  let value = 0n;
  for (const c of cleaned.slice(0, 32)) value = (value << 5n) | BigInt(ALPHABET.indexOf(c));
  const secret = new Uint8Array(SECRET_LENGTH);
  for (let i = SECRET_LENGTH - 1; i >= 0; i--, value >>= 8n) secret[i] = Number(value & 0xffn);
  if ((await checksum(secret)) !== cleaned.slice(32)) throw new ProtocolError('recovery-key-checksum');
  return secret;
}

/** @param {Uint8Array} secret @returns {Promise<{authKey: Uint8Array, kek: Uint8Array}>} */
export async function deriveRecoveryKeys(secret) {
  const s = bytes(secret, SECRET_LENGTH);
  return { authKey: await hkdf(s, LABEL.RECOVERY_AUTH), kek: await hkdf(s, LABEL.RECOVERY_KEK) };
}
