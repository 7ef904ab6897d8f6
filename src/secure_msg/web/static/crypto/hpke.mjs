/**
 * HPKE (RFC 9180) base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, from WebCrypto
 * parts. WebCrypto's HKDF cannot run LabeledExtract and LabeledExpand separately, so HKDF is HMAC.
 */
import { bytes, concat } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { aesGcmDecrypt, aesGcmEncrypt, draw, hkdfExpand, hkdfExtract, hmacKey, importPrivate, randomBytes, x25519 } from './primitives.mjs';

const MODE_BASE = 0x00;
const N_K = 32;
const N_N = 12;
const N_H = 32;
const ascii = (/** @type {string} */ s) => new TextEncoder().encode(s);
const HPKE_V1 = ascii('HPKE-v1');
const KEM_SUITE_ID = concat(ascii('KEM'), Uint8Array.of(0x00, 0x20));
const HPKE_SUITE_ID = concat(ascii('HPKE'), Uint8Array.of(0x00, 0x20, 0x00, 0x01, 0x00, 0x02));

/** @typedef {import('./primitives.mjs').Rng} Rng */
/** @typedef {{privateKey: CryptoKey, publicKey: Uint8Array}} X25519KeyPair */

/** @param {Uint8Array} suiteId @param {Uint8Array} salt @param {string} label @param {Uint8Array} ikm */
function labeledExtract(suiteId, salt, label, ikm) {
  return hkdfExtract(salt, concat(HPKE_V1, suiteId, ascii(label), ikm));
}

/** @param {Uint8Array} suiteId @param {Uint8Array | CryptoKey} prk @param {string} label @param {Uint8Array} info @param {number} length */
function labeledExpand(suiteId, prk, label, info, length) {
  const l = Uint8Array.of(length >> 8, length & 0xff);
  return hkdfExpand(prk, concat(l, HPKE_V1, suiteId, ascii(label), info), length);
}

/** ExtractAndExpand of DHKEM. @param {Uint8Array} dh @param {Uint8Array} enc @param {Uint8Array} pkR */
async function sharedSecret(dh, enc, pkR) {
  const prk = await labeledExtract(KEM_SUITE_ID, new Uint8Array(0), 'eae_prk', dh);
  return labeledExpand(KEM_SUITE_ID, prk, 'shared_secret', concat(enc, pkR), N_H);
}

/** An HPKE encryption context (RFC 9180 §5.2) with its sequence number. */
export class Context {
  /** @param {Uint8Array} key @param {Uint8Array} baseNonce @param {Uint8Array} exporterSecret */
  constructor(key, baseNonce, exporterSecret) {
    this.key = key;
    this.baseNonce = baseNonce;
    this.exporterSecret = exporterSecret;
    this.seq = 0;
  }

  #nonce() {
    const nonce = this.baseNonce.slice();
    // seq < 2^53 here, far below the RFC's 2^96 limit; XOR it into the low-order bytes.
    for (let i = N_N - 1, s = this.seq; s > 0; i--, s = Math.floor(s / 256)) nonce[i] ^= s % 256;
    return nonce;
  }

  /** @param {Uint8Array} aad @param {Uint8Array} plaintext */
  async seal(aad, plaintext) {
    const out = await aesGcmEncrypt(this.key, this.#nonce(), plaintext, aad);
    this.seq += 1;
    return out;
  }

  /** A failed tag check is `unwrap-failed`. @param {Uint8Array} aad @param {Uint8Array} ciphertext */
  async open(aad, ciphertext) {
    const out = await aesGcmDecrypt(this.key, this.#nonce(), ciphertext, aad, 'unwrap-failed');
    this.seq += 1;
    return out;
  }

  /** @param {Uint8Array} exporterContext @param {number} length */
  export(exporterContext, length) {
    return labeledExpand(HPKE_SUITE_ID, this.exporterSecret, 'sec', exporterContext, length);
  }
}

/** @type {Promise<Uint8Array> | undefined} the same for every base-mode context (no PSK id) */
let pskIdHash;

/** KeySchedule for mode_base. @param {Uint8Array} shared @param {Uint8Array} info */
async function keySchedule(shared, info) {
  const empty = new Uint8Array(0);
  pskIdHash ??= labeledExtract(HPKE_SUITE_ID, empty, 'psk_id_hash', empty);
  const infoHash = await labeledExtract(HPKE_SUITE_ID, empty, 'info_hash', info);
  const context = concat(Uint8Array.of(MODE_BASE), await pskIdHash, infoHash);
  // One HMAC key for the three expansions: each WebCrypto call costs a thread hop.
  const secret = await hmacKey(await labeledExtract(HPKE_SUITE_ID, shared, 'secret', empty));
  return new Context(
    await labeledExpand(HPKE_SUITE_ID, secret, 'key', context, N_K),
    await labeledExpand(HPKE_SUITE_ID, secret, 'base_nonce', context, N_N),
    await labeledExpand(HPKE_SUITE_ID, secret, 'exp', context, N_H),
  );
}

/**
 * SetupBaseS. The ephemeral private key is `rng(32)` used as an X25519 scalar, so an injected rng
 * (or the RFC vectors' skEm) makes the output exact.
 * @param {Uint8Array} pkR recipient public key
 * @param {Uint8Array} info
 * @param {Rng} [rng]
 * @returns {Promise<{enc: Uint8Array, context: Context}>}
 */
export async function setupBaseS(pkR, info, rng = randomBytes) {
  const recipient = bytes(pkR, 32, 'invalid-key');
  const ephemeral = await importPrivate('X25519', draw(rng, 32), true);
  const dh = await x25519(ephemeral.privateKey, recipient);
  const enc = ephemeral.publicKey;
  return { enc, context: await keySchedule(await sharedSecret(dh, enc, recipient), info) };
}

/**
 * SetupBaseR. A rejected `enc` is `invalid-key`.
 * @param {Uint8Array} enc @param {X25519KeyPair} recipient @param {Uint8Array} info
 */
export async function setupBaseR(enc, recipient, info) {
  const dh = await x25519(recipient.privateKey, enc);
  return keySchedule(await sharedSecret(dh, enc, recipient.publicKey), info);
}

/**
 * Single-shot SealBase.
 * @param {Uint8Array} pkR @param {Uint8Array} info @param {Uint8Array} aad @param {Uint8Array} plaintext @param {Rng} [rng]
 * @returns {Promise<{enc: Uint8Array, ciphertext: Uint8Array}>}
 */
export async function sealBase(pkR, info, aad, plaintext, rng = randomBytes) {
  const { enc, context } = await setupBaseS(pkR, info, rng);
  return { enc, ciphertext: await context.seal(aad, plaintext) };
}

/**
 * Single-shot OpenBase; every failure, a rejected `enc` included, is `unwrap-failed`.
 * @param {Uint8Array} enc @param {X25519KeyPair} recipient @param {Uint8Array} info @param {Uint8Array} aad @param {Uint8Array} ciphertext
 */
export async function openBase(enc, recipient, info, aad, ciphertext) {
  try {
    const context = await setupBaseR(enc, recipient, info);
    return await context.open(aad, ciphertext);
  } catch {
    throw new ProtocolError('unwrap-failed');
  }
}
