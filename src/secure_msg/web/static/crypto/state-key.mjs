/**
 * The sealed client state's key (docs/protocol.md §6.5), apart from client-state.mjs: every
 * login derives it, while sealing and opening the state load only after sign-in.
 */
import { bytes } from './encoding.mjs';
import { LABEL, labelled } from './labels.mjs';

/**
 * `HKDF(identity_seed, "secure-msg/v1/client-state-key")` as a non-extractable AES-256-GCM key.
 * WebCrypto's own HKDF (empty salt, as §2) derives it straight into a CryptoKey.
 * @param {Uint8Array} identitySeed @returns {Promise<CryptoKey>}
 */
export async function deriveStateKey(identitySeed) {
  const subtle = globalThis.crypto.subtle;
  const base = await subtle.importKey('raw', bytes(identitySeed, 32, 'invalid-key'), 'HKDF', false, ['deriveKey']);
  const params = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: labelled(LABEL.CLIENT_STATE_KEY) };
  return subtle.deriveKey(params, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}
