/**
 * Private-key storage on the device. WebKit cannot read X25519/Ed25519 CryptoKeys back from
 * IndexedDB, so the store keeps one non-extractable AES-GCM "device key" there (which WebKit does
 * store) and the account's key bundle encrypted under it; keys are imported into memory as
 * non-extractable CryptoKeys on load. The storage backend is injectable; "memory only" (for shared
 * computers) keeps everything in this page and persists nothing.
 */
import { bytes, concat, toHex } from './encoding.mjs';
import { AccountKeys, KeyBundle } from './keys.mjs';
import { aesGcmDecrypt, aesGcmEncrypt, randomBytes } from './primitives.mjs';

/**
 * @typedef {object} Backend a key–value store of structured-cloneable values
 * @property {(key: string) => Promise<any>} get undefined when absent
 * @property {(key: string, value: any) => Promise<void>} put
 * @property {(key: string) => Promise<void>} delete
 * @property {() => Promise<void>} clear
 */

const DEVICE_KEY = 'device-key';
const bundleKey = (/** @type {Uint8Array} */ accountId) => `bundle:${toHex(accountId)}`;

/** A backend that lives only as long as this page (and the tests' stand-in for IndexedDB). @returns {Backend} */
export function memoryBackend() {
  const map = new Map();
  return {
    get: async (key) => map.get(key),
    put: async (key, value) => void map.set(key, value),
    delete: async (key) => void map.delete(key),
    clear: async () => map.clear(),
  };
}

/**
 * IndexedDB, one object store. @param {string} [name] database name
 * @param {IDBFactory} [idb] @returns {Backend}
 */
export function indexedDbBackend(name = 'secure-msg-keys', idb = globalThis.indexedDB) {
  /** @type {Promise<IDBDatabase> | undefined} */
  let opened;
  const database = () => (opened ??= new Promise((resolve, reject) => {
    const req = idb.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('keys');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  }));
  /** @param {IDBTransactionMode} mode @param {(s: IDBObjectStore) => IDBRequest} op */
  const run = async (mode, op) => {
    const db = await database();
    return new Promise((resolve, reject) => {
      const tx = db.transaction('keys', mode);
      const req = op(tx.objectStore('keys'));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  };
  return {
    get: (key) => run('readonly', (s) => s.get(key)),
    put: (key, value) => run('readwrite', (s) => s.put(value, key)),
    delete: (key) => run('readwrite', (s) => s.delete(key)),
    clear: () => run('readwrite', (s) => s.clear()),
  };
}

export class KeyStore {
  /** @param {Backend} backend @param {CryptoKey} deviceKey */
  constructor(backend, deviceKey) {
    this.backend = backend;
    this.deviceKey = deviceKey;
  }

  /**
   * Open the store, creating the device key on first use.
   * @param {{backend?: Backend, memoryOnly?: boolean}} [options] memoryOnly ignores `backend`
   */
  static async open({ backend, memoryOnly = false } = {}) {
    const store = memoryOnly ? memoryBackend() : backend ?? indexedDbBackend();
    let deviceKey = await store.get(DEVICE_KEY);
    if (!deviceKey) {
      deviceKey = await globalThis.crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      await store.put(DEVICE_KEY, deviceKey);
    }
    return new KeyStore(store, deviceKey);
  }

  /** Store an account's key bundle (encrypted under the device key). @param {KeyBundle} bundle */
  async save(bundle) {
    const nonce = randomBytes(12);
    const plain = bundle.encode();
    try {
      const ct = await aesGcmEncrypt(this.deviceKey, nonce, plain, bundle.accountId);
      await this.backend.put(bundleKey(bundle.accountId), concat(nonce, ct));
    } finally {
      plain.fill(0);
    }
  }

  /**
   * The account's keys as non-extractable CryptoKeys, or null when none are stored.
   * A record the device key cannot open is `bundle-decrypt-failed`.
   * @param {Uint8Array} accountId @returns {Promise<AccountKeys | null>}
   */
  async load(accountId) {
    const id = bytes(accountId, 16);
    const record = await this.backend.get(bundleKey(id));
    if (!record) return null;
    const blob = bytes(record);
    const plain = await aesGcmDecrypt(this.deviceKey, blob.subarray(0, 12), blob.subarray(12), id, 'bundle-decrypt-failed');
    const bundle = KeyBundle.parse(plain);
    plain.fill(0);
    try {
      return await AccountKeys.fromBundle(bundle);
    } finally {
      bundle.wipe();
    }
  }

  /** @param {Uint8Array} accountId */
  async remove(accountId) {
    await this.backend.delete(bundleKey(bytes(accountId, 16)));
  }

  /** Forget every stored key, the device key included (sign-out on a shared computer). */
  async clear() {
    await this.backend.clear();
  }

  /**
   * Forget every stored key without opening the store first: opening makes a device key when
   * there is none, which a tab logging out after another tab's wipe would leave behind.
   * @param {{backend?: Backend}} [options]
   */
  static async wipe({ backend } = {}) {
    await (backend ?? indexedDbBackend()).clear();
  }
}
