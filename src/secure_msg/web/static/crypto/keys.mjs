/** Account keys and signed key statements (docs/protocol.md §3.1, §3.2). */
import { Reader, Writer, bytes, concat, equal } from './encoding.mjs';
import { deriveStateKey } from './state-key.mjs';
import { ProtocolError } from './errors.mjs';
import { LABEL, TYPE } from './labels.mjs';
import { checkX25519Public, draw, importPrivate, randomBytes, sign, verify } from './primitives.mjs';

/** @typedef {import('./primitives.mjs').Rng} Rng */
/** @typedef {{privateKey: CryptoKey, publicKey: Uint8Array}} KeyPair */

/**
 * The plaintext key bundle (type 0x02): an account's raw private keys. It exists only to be sealed,
 * stored or imported; call `wipe()` as soon as that is done.
 */
export class KeyBundle {
  /** @param {Uint8Array} accountId @param {Uint8Array} identitySeed @param {Uint8Array} encryptionSecret */
  constructor(accountId, identitySeed, encryptionSecret) {
    this.accountId = bytes(accountId, 16);
    this.identitySeed = bytes(identitySeed, 32, 'invalid-key');
    this.encryptionSecret = bytes(encryptionSecret, 32, 'invalid-key');
  }

  /** Fresh keys for an account: identity seed then encryption secret, from `rng`. @param {Uint8Array} accountId @param {Rng} [rng] */
  static generate(accountId, rng = randomBytes) {
    return new KeyBundle(accountId, draw(rng, 32), draw(rng, 32));
  }

  /** @returns {Uint8Array} 84 bytes */
  encode() {
    return new Writer(TYPE.KEY_BUNDLE).fixed(this.accountId, 16).fixed(this.identitySeed, 32)
      .fixed(this.encryptionSecret, 32).finish();
  }

  /** Any defect of the inner bundle is `malformed` (§3.5). @param {Uint8Array} data */
  static parse(data) {
    try {
      const r = new Reader(data, TYPE.KEY_BUNDLE);
      const bundle = new KeyBundle(r.take(16), r.take(32), r.take(32));
      r.end();
      return bundle;
    } catch (e) {
      if (e instanceof ProtocolError) throw new ProtocolError('malformed', `inner key bundle: ${e.code}`);
      throw e;
    }
  }

  /** Overwrite the secrets in memory. */
  wipe() {
    this.identitySeed.fill(0);
    this.encryptionSecret.fill(0);
  }
}

/**
 * An account's private keys as non-extractable CryptoKeys, with their public halves, and the key
 * its client state is sealed with (§6.5).
 */
export class AccountKeys {
  /**
   * @param {Uint8Array} accountId @param {KeyPair} identity Ed25519 @param {KeyPair} encryption X25519
   * @param {CryptoKey | null} [stateKey] AES-256-GCM, non-extractable
   */
  constructor(accountId, identity, encryption, stateKey = null) {
    this.accountId = accountId;
    this.identity = identity;
    this.encryption = encryption;
    this.stateKey = stateKey;
  }

  /**
   * The seed is in memory only here (at login, and when the key store reloads the bundle), so
   * the state key is derived here too.
   * @param {KeyBundle} bundle
   */
  static async fromBundle(bundle) {
    return new AccountKeys(
      bundle.accountId.slice(),
      await importPrivate('Ed25519', bundle.identitySeed),
      await importPrivate('X25519', bundle.encryptionSecret),
      await deriveStateKey(bundle.identitySeed),
    );
  }

  /** @returns {Uint8Array} Ed25519 public key (IK) */
  get identityPublic() {
    return this.identity.publicKey;
  }

  /** @returns {Uint8Array} X25519 public key (EK) */
  get encryptionPublic() {
    return this.encryption.publicKey;
  }

  /** This account's signed key statement. @param {number} createdAt ms @returns {Promise<Uint8Array>} 156 bytes */
  async statement(createdAt) {
    const unsigned = new Writer(TYPE.KEY_STATEMENT).fixed(this.accountId, 16).fixed(this.identityPublic, 32)
      .fixed(this.encryptionPublic, 32).u64(createdAt).finish();
    return concat(unsigned, await sign(this.identity.privateKey, LABEL.KEY_STATEMENT, unsigned));
  }
}

/**
 * @typedef {object} KeyStatement
 * @property {Uint8Array} accountId
 * @property {Uint8Array} identityKey Ed25519 public key
 * @property {Uint8Array} encryptionKey X25519 public key
 * @property {number} createdAt ms
 * @property {Uint8Array} signature
 * @property {Uint8Array} signedPart bytes[0:92]
 */

/** Structure only (prefix, length); the signature is not checked. @param {Uint8Array} data @returns {KeyStatement} */
export function parseKeyStatement(data) {
  const r = new Reader(data, TYPE.KEY_STATEMENT);
  const accountId = r.take(16);
  const identityKey = r.take(32);
  const encryptionKey = r.take(32);
  const createdAt = r.u64();
  const signedPart = r.consumed();
  const signature = r.take(64);
  r.end();
  return { accountId, identityKey, encryptionKey, createdAt, signature, signedPart };
}

/**
 * The checks of §3.2: structure, the signature under the embedded identity key (a small-order IK is
 * `invalid-key`), an EK one can encrypt to (a low-order EK is `invalid-key`: it would make every
 * later seal to the booklet fail), then (when given) the account asked for (`account-mismatch`)
 * and the pinned identity key (`identity-key-changed`).
 * Encrypt only to an EK from a statement that passed this with a pinned key.
 * @param {Uint8Array} data
 * @param {{accountId?: Uint8Array, pinnedIdentityKey?: Uint8Array}} [expect]
 * @returns {Promise<KeyStatement>}
 */
export async function verifyKeyStatement(data, expect = {}) {
  const st = parseKeyStatement(data);
  await verify(st.identityKey, st.signature, LABEL.KEY_STATEMENT, st.signedPart);
  await checkX25519Public(st.encryptionKey);
  if (expect.accountId && !equal(st.accountId, bytes(expect.accountId, 16))) {
    throw new ProtocolError('account-mismatch');
  }
  if (expect.pinnedIdentityKey && !equal(st.identityKey, bytes(expect.pinnedIdentityKey, 32, 'invalid-key'))) {
    throw new ProtocolError('identity-key-changed');
  }
  return st;
}
