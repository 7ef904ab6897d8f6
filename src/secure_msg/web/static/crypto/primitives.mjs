/** WebCrypto primitives as the protocol uses them: hashes, HKDF, AES-256-GCM, Ed25519, X25519. */
import { bytes, concat, fromBase64url } from './encoding.mjs';
import { isCanonicalSignature, isValidEd25519Key } from './ed25519.mjs';
import { ProtocolError } from './errors.mjs';
import { labelled } from './labels.mjs';

const subtle = globalThis.crypto.subtle;

/** @typedef {(n: number) => Uint8Array} Rng */

/** The default randomness: the platform CSPRNG. @type {Rng} */
export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/**
 * Draw `n` bytes from an injected rng and check that it kept its contract.
 * @param {Rng} rng @param {number} n
 */
export function draw(rng, n) {
  return bytes(rng(n), n);
}

/** @param {string} label @param {...Uint8Array} parts */
export async function sha256(label, ...parts) {
  return new Uint8Array(await subtle.digest('SHA-256', labelled(label, ...parts)));
}

/** @param {Uint8Array} data */
export async function sha512(data) {
  return new Uint8Array(await subtle.digest('SHA-512', data));
}

/** An HMAC-SHA256 key, for reuse across several HKDF-Expand calls. @param {Uint8Array | CryptoKey} key */
export async function hmacKey(key) {
  if (key instanceof CryptoKey) return key;
  // WebCrypto refuses an empty HMAC key; HMAC zero-pads keys, so 32 zero bytes is the same key.
  const raw = key.length ? key : new Uint8Array(32);
  return subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/** HKDF-Extract (RFC 5869). @param {Uint8Array} salt @param {Uint8Array} ikm */
export async function hkdfExtract(salt, ikm) {
  return new Uint8Array(await subtle.sign('HMAC', await hmacKey(salt), ikm));
}

/** HKDF-Expand (RFC 5869). @param {Uint8Array | CryptoKey} prk @param {Uint8Array} info @param {number} length */
export async function hkdfExpand(prk, info, length) {
  const key = await hmacKey(prk);
  const out = new Uint8Array(length);
  let block = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    block = new Uint8Array(await subtle.sign('HMAC', key, concat(block, info, Uint8Array.of(i))));
    out.set(block.subarray(0, length - at), at);
    at += block.length;
  }
  return out;
}

/** `HKDF(ikm, label)` of §2: empty salt, info = label || 0x00, 32 bytes. @param {Uint8Array} ikm @param {string} label */
export async function hkdf(ikm, label) {
  return hkdfExpand(await hkdfExtract(new Uint8Array(0), ikm), labelled(label), 32);
}

/** @param {Uint8Array | CryptoKey} key */
function aesKey(key) {
  if (key instanceof CryptoKey) return key;
  return subtle.importKey('raw', bytes(key, 32), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/**
 * AES-256-GCM with a 96-bit nonce and 128-bit tag; returns ciphertext || tag.
 * @param {Uint8Array | CryptoKey} key @param {Uint8Array} nonce @param {Uint8Array} plaintext @param {Uint8Array} aad
 */
export async function aesGcmEncrypt(key, nonce, plaintext, aad) {
  const params = { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 };
  return new Uint8Array(await subtle.encrypt(params, await aesKey(key), plaintext));
}

/**
 * @param {Uint8Array | CryptoKey} key @param {Uint8Array} nonce @param {Uint8Array} ciphertext @param {Uint8Array} aad
 * @param {string} code the error for a failed tag check
 */
export async function aesGcmDecrypt(key, nonce, ciphertext, aad, code) {
  const k = await aesKey(key);
  try {
    const params = { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 };
    return new Uint8Array(await subtle.decrypt(params, k, ciphertext));
  } catch {
    throw new ProtocolError(code);
  }
}

// WebCrypto imports no raw private keys for these curves; PKCS#8 of a bare 32-byte key has this fixed prefix.
const PKCS8_PREFIX = {
  Ed25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20),
  X25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20),
};

/**
 * Import a 32-byte Ed25519 seed or X25519 scalar as a private key, and derive its public key
 * (through a short-lived extractable copy: the seed is in memory at this point anyway).
 * Non-extractable unless `extractable`, which single-use HPKE ephemerals take to save an import.
 * @param {'Ed25519' | 'X25519'} curve
 * @param {Uint8Array} secret
 * @param {boolean} [extractable]
 * @returns {Promise<{privateKey: CryptoKey, publicKey: Uint8Array}>}
 */
export async function importPrivate(curve, secret, extractable = false) {
  const pkcs8 = concat(PKCS8_PREFIX[curve], bytes(secret, 32, 'invalid-key'));
  const usages = curve === 'Ed25519' ? ['sign'] : ['deriveBits'];
  try {
    const temp = await subtle.importKey('pkcs8', pkcs8, { name: curve }, true, usages);
    const { x } = await subtle.exportKey('jwk', temp);
    const privateKey = extractable ? temp : await subtle.importKey('pkcs8', pkcs8, { name: curve }, false, usages);
    return { privateKey, publicKey: fromBase64url(/** @type {string} */ (x)) };
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError('invalid-key', `${curve} rejected the private key`);
  } finally {
    pkcs8.fill(0);
  }
}

/** An Ed25519 public key libsodium accepts (see ed25519.mjs), else `invalid-key`. @param {Uint8Array} key */
function ed25519Public(key) {
  const k = bytes(key, 32, 'invalid-key');
  if (!isValidEd25519Key(k)) throw new ProtocolError('invalid-key', 'not a prime-order Ed25519 point');
  return subtle.importKey('raw', k, { name: 'Ed25519' }, false, ['verify']);
}

/** Sign `label || 0x00 || parts…`. @param {CryptoKey} key @param {string} label @param {...Uint8Array} parts */
export async function sign(key, label, ...parts) {
  return new Uint8Array(await subtle.sign('Ed25519', key, labelled(label, ...parts)));
}

/**
 * Verify `signature` over `label || 0x00 || parts…` as libsodium does: `bad-signature` (also for
 * a non-canonical S or a small-order R, which some WebCrypto implementations accept), or
 * `invalid-key` for a key that is not a canonical point of the prime-order subgroup.
 * @param {Uint8Array} publicKey @param {Uint8Array} signature @param {string} label @param {...Uint8Array} parts
 */
export async function verify(publicKey, signature, label, ...parts) {
  let key;
  try {
    key = await ed25519Public(publicKey);
  } catch (e) {
    throw e instanceof ProtocolError ? e : new ProtocolError('invalid-key', 'not an Ed25519 public key');
  }
  let ok = false;
  try {
    ok = isCanonicalSignature(bytes(signature)) && await subtle.verify('Ed25519', key, signature, labelled(label, ...parts));
  } catch {
    ok = false;
  }
  if (!ok) throw new ProtocolError('bad-signature');
}

/**
 * `invalid-key` unless `publicKey` is an X25519 key one can encrypt to: a low-order point gives an
 * all-zero shared secret with every scalar (clamping makes them all multiples of the cofactor).
 * @param {Uint8Array} publicKey
 */
export async function checkX25519Public(publicKey) {
  const probe = await importPrivate('X25519', randomBytes(32), true);
  await x25519(probe.privateKey, publicKey);
}

/**
 * X25519(sk, pk). An all-zero result (a low-order public key) is `invalid-key`, as RFC 9180 requires.
 * @param {CryptoKey} privateKey @param {Uint8Array} publicKey
 */
export async function x25519(privateKey, publicKey) {
  try {
    const pub = await subtle.importKey('raw', bytes(publicKey, 32, 'invalid-key'), { name: 'X25519' }, false, []);
    const out = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, privateKey, 256));
    if (out.every((b) => b === 0)) throw new Error('all-zero shared secret');
    return out;
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError('invalid-key', 'X25519 rejected the public key');
  }
}
