/**
 * Ed25519 exactly as libsodium verifies it (docs/protocol.md §1), where WebCrypto does not.
 *
 * Which public keys are acceptable identity keys: libsodium's crypto_core_ed25519_is_valid_point,
 * as the Python side uses. WebCrypto's Ed25519 accepts any 32 bytes, and verifies forgeries anyone
 * can make under a small-order key, so the check is done here, in BigInt arithmetic: canonical
 * encoding, not of small order, on the curve, and in the prime-order subgroup. It costs about a
 * millisecond, so accepted keys are remembered.
 *
 * Which signatures libsodium's crypto_sign_verify_detached refuses before its equation: S not
 * below L, and R of small order. WebCrypto (OpenSSL in Node and Chromium) refuses the first but
 * accepts R = the identity point from the key's holder, so both are checked here too.
 */
import { toHex } from './encoding.mjs';

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const mod = (/** @type {bigint} */ a) => ((a % P) + P) % P;

/** @param {bigint} base @param {bigint} exp */
function pow(base, exp) {
  let result = 1n;
  for (let b = mod(base), e = exp; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) result = (result * b) % P;
  return result;
}

const D = mod(-121665n * pow(121666n, P - 2n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

// Canonical y-coordinates of the eight small-order points (x's sign gives the rest): libsodium's
// ge25519_has_small_order list less its non-canonical entries, refused before this is consulted.
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n,
  2707385501144840649318225287225658788936804267575313519463743609750303402022n,
  55188659117513257062467267217118295137698188065244968500265048394206261417927n]);

/** @typedef {[bigint, bigint, bigint, bigint]} Point extended coordinates (X, Y, Z, T) */

/** Complete addition on -x^2 + y^2 = 1 + d x^2 y^2 (add-2008-hwcd-3); doubles too. @param {Point} p @param {Point} q @returns {Point} */
function add([x1, y1, z1, t1], [x2, y2, z2, t2]) {
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(t1 * D2 * t2);
  const d = mod(2n * z1 * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

/** RFC 8032 §5.1.3 decoding of a canonical y; null when x² has no root. @param {bigint} y @param {number} sign @returns {Point | null} */
function decode(y, sign) {
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return null;
  if (Number(x & 1n) !== sign) x = mod(-x);
  return [x, y, 1n, mod(x * y)];
}

/** @param {Point} point */
function inPrimeOrderSubgroup(point) {
  /** @type {Point} */
  let acc = [0n, 1n, 1n, 0n];
  for (let i = BigInt(L.toString(2).length - 1); i >= 0n; i--) {
    acc = add(acc, acc);
    if ((L >> i) & 1n) acc = add(acc, point);
  }
  return acc[0] === 0n && acc[1] === acc[2];
}

/** The y-coordinate of an encoded point, its sign bit dropped. @param {Uint8Array} enc 32 bytes */
const yOf = (enc) => enc.reduceRight((n, b, i) => (n << 8n) | BigInt(i === 31 ? b & 0x7f : b), 0n);

/** A little-endian 32-byte scalar. @param {Uint8Array} enc */
const scalarOf = (enc) => enc.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n);

/**
 * Whether libsodium's crypto_sign_verify_detached would go on to its equation with `signature`:
 * S < L, and R neither non-canonical (y ≥ p, which no equation can match) nor of small order.
 * @param {Uint8Array} signature 64 bytes, R || S
 */
export function isCanonicalSignature(signature) {
  if (signature.length !== 64) return false;
  const r = yOf(signature.subarray(0, 32));
  return r < P && !SMALL_ORDER_Y.has(r) && scalarOf(signature.subarray(32)) < L;
}

/** @type {Set<string>} */
const accepted = new Set();
const REMEMBERED = 1024;

/** Whether libsodium's crypto_core_ed25519_is_valid_point accepts `key`. @param {Uint8Array} key 32 bytes */
export function isValidEd25519Key(key) {
  const hex = toHex(key);
  if (accepted.has(hex)) return true;
  const sign = key[31] >> 7;
  const y = yOf(key);
  if (y >= P || SMALL_ORDER_Y.has(y)) return false;
  const point = decode(y, sign);
  if (!point || !inPrimeOrderSubgroup(point)) return false;
  if (accepted.size >= REMEMBERED) accepted.clear();
  accepted.add(hex);
  return true;
}
