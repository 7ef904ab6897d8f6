/** Identity-key fingerprints, pairwise 60-digit safety numbers and the QR payload (docs/protocol.md §6). */
import { Reader, Writer, bytes, concat, equal, toHex } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { LABEL, TYPE, labelled } from './labels.mjs';
import { sha256, sha512 } from './primitives.mjs';

const ITERATIONS = 5200;

/** @typedef {{accountId: Uint8Array, identityKey: Uint8Array}} Party */

/** First 16 bytes of the labelled SHA-256, as eight space-separated groups of four hex digits. @param {Uint8Array} identityKey */
export async function fingerprint(identityKey) {
  const hex = toHex((await sha256(LABEL.FINGERPRINT, bytes(identityKey, 32, 'invalid-key'))).subarray(0, 16));
  return hex.match(/.{4}/g).join(' ');
}

/** One party's 30 digits. @param {Party} party */
async function partyDigits({ accountId, identityKey }) {
  const ik = bytes(identityKey, 32, 'invalid-key');
  let h = await sha512(labelled(LABEL.SAFETY_NUMBER, ik, bytes(accountId, 16)));
  for (let i = 1; i < ITERATIONS; i++) h = await sha512(concat(h, ik));
  let digits = '';
  for (let i = 0; i < 6; i++) {
    const v = h.subarray(5 * i, 5 * i + 5).reduce((n, b) => n * 256 + b, 0); // < 2^40, exact in a Number
    digits += String(v % 100000).padStart(5, '0');
  }
  return digits;
}

/**
 * The pairwise safety number: 60 digits, the same whichever party computes it.
 * @param {Party} a @param {Party} b @returns {Promise<string>}
 */
export async function safetyNumber(a, b) {
  const [x, y] = await Promise.all([partyDigits(a), partyDigits(b)]);
  return x < y ? x + y : y + x;
}

/** Twelve groups of five for display. @param {string} number */
export function groupDigits(number) {
  return (number.match(/.{1,5}/g) ?? []).join(' ');
}

/**
 * The QR payload a device shows: its own identity (shower) and the peer's (scanner).
 * @param {{shower: Party, scanner: Party}} parties @returns {Uint8Array} 100 bytes
 */
export function encodeQrPayload({ shower, scanner }) {
  return new Writer(TYPE.QR).fixed(shower.accountId, 16).fixed(shower.identityKey, 32)
    .fixed(scanner.accountId, 16).fixed(scanner.identityKey, 32).finish();
}

/** @param {Uint8Array} data @returns {{shower: Party, scanner: Party}} */
export function parseQrPayload(data) {
  const r = new Reader(data, TYPE.QR);
  const shower = { accountId: r.take(16), identityKey: r.take(32) };
  const scanner = { accountId: r.take(16), identityKey: r.take(32) };
  r.end();
  return { shower, scanner };
}

/**
 * Run by the scanner: the code must show the peer's pinned identity and my own (`qr-mismatch`).
 * @param {Uint8Array} data @param {{peer: Party, me: Party}} expect
 */
export function checkQrPayload(data, { peer, me }) {
  const { shower, scanner } = parseQrPayload(data);
  const same = (/** @type {Party} */ x, /** @type {Party} */ y) =>
    equal(x.accountId, bytes(y.accountId, 16)) && equal(x.identityKey, bytes(y.identityKey, 32, 'invalid-key'));
  if (!same(shower, peer) || !same(scanner, me)) throw new ProtocolError('qr-mismatch');
}
