/**
 * File blobs (docs/protocol.md §4.7): a file encrypted on the device in chunks, as
 * crypto/file_stream.py does. STREAM (Hoang, Reyhanitabar, Rogaway, Vizár 2015), as age uses it:
 * AES-256-GCM per chunk, the nonce being the chunk's index and a final-chunk flag, under a key
 * derived from the file key, the booklet and the file id; the 40-byte header is every chunk's AAD.
 *
 * WebCrypto has no incremental SHA-256, so the plaintext's hash is taken at the end over the
 * pieces kept meanwhile: in the browser a file is in memory once anyway (a File to read, a Blob
 * to save). Chunks themselves are encrypted and decrypted one at a time.
 */
import { bytes, concat, equal } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { LABEL, SUITE, TYPE, VERSION, labelled } from './labels.mjs';
import { draw, hkdfExpand, hkdfExtract, randomBytes } from './primitives.mjs';

const subtle = globalThis.crypto.subtle;

export const CHUNK_SIZE = 65536;
export const MIN_CHUNK_SIZE = 64;
export const MAX_CHUNK_SIZE = 1048576;
export const HEADER_LEN = 40;
export const TAG_LEN = 16;
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

/** @typedef {import('./primitives.mjs').Rng} Rng */
/** @typedef {{bookletId: Uint8Array, fileId: Uint8Array, chunkSize: number}} FileHeader */

/** @param {number} n */
const validChunkSize = (n) => Number.isInteger(n) && n >= MIN_CHUNK_SIZE && n <= MAX_CHUNK_SIZE && (n & (n - 1)) === 0;

/** @param {Uint8Array} bookletId @param {Uint8Array} fileId @param {number} chunkSize */
export function encodeFileHeader(bookletId, fileId, chunkSize) {
  const out = new Uint8Array(HEADER_LEN);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  view.setUint16(1, SUITE);
  out[3] = TYPE.FILE_BLOB;
  out.set(bytes(bookletId, 16), 4);
  out.set(bytes(fileId, 16), 20);
  view.setUint32(36, chunkSize);
  return out;
}

/** The header of §4.7 from the first 40 bytes of a blob. @param {Uint8Array} data @returns {FileHeader} */
export function parseFileHeader(data) {
  if (data.length < HEADER_LEN) throw new ProtocolError('file-truncated', 'the blob ends inside its header');
  const view = new DataView(data.buffer, data.byteOffset, HEADER_LEN);
  if (data[0] !== VERSION) throw new ProtocolError('unsupported-version');
  if (view.getUint16(1) !== SUITE) throw new ProtocolError('unsupported-suite');
  if (data[3] !== TYPE.FILE_BLOB) throw new ProtocolError('wrong-type');
  const chunkSize = view.getUint32(36);
  if (!validChunkSize(chunkSize)) throw new ProtocolError('malformed', 'chunk size');
  return { bookletId: data.slice(4, 20), fileId: data.slice(20, 36), chunkSize };
}

/** Chunks of a file of `size` bytes: at least one. @param {number} size @param {number} [chunkSize] */
export const chunkCount = (size, chunkSize = CHUNK_SIZE) => Math.max(1, Math.ceil(size / chunkSize));

/** The exact blob length of a `size`-byte file. @param {number} size @param {number} [chunkSize] */
export function blobLength(size, chunkSize = CHUNK_SIZE) {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('file size out of range');
  return HEADER_LEN + size + TAG_LEN * chunkCount(size, chunkSize);
}

/**
 * The file size a blob of `blobLen` bytes holds, or null when no file has that blob length.
 * @param {number} blobLen @param {number} [chunkSize] @returns {number | null}
 */
export function plaintextLength(blobLen, chunkSize = CHUNK_SIZE) {
  const body = blobLen - HEADER_LEN;
  if (body === TAG_LEN) return 0;
  if (body < TAG_LEN) return null;
  const full = Math.floor(body / (chunkSize + TAG_LEN));
  const rest = body - full * (chunkSize + TAG_LEN);
  if (rest === 0) return full * chunkSize;
  if (rest <= TAG_LEN) return null;
  return full * chunkSize + rest - TAG_LEN;
}

/**
 * HKDF-SHA256(file_key, info = "secure-msg/v1/file-chunk-key" 0x00 || booklet_id || file_id).
 * @param {Uint8Array} fileKey @param {Uint8Array} bookletId @param {Uint8Array} fileId
 */
export async function chunkKeyBytes(fileKey, bookletId, fileId) {
  const prk = await hkdfExtract(new Uint8Array(0), bytes(fileKey, 32));
  return hkdfExpand(prk, labelled(LABEL.FILE_CHUNK_KEY, bytes(bookletId, 16), bytes(fileId, 16)), 32);
}

/** @param {Uint8Array} fileKey @param {Uint8Array} bookletId @param {Uint8Array} fileId */
async function chunkKey(fileKey, bookletId, fileId) {
  const raw = await chunkKeyBytes(fileKey, bookletId, fileId);
  return subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** u88 index || 0x01 for the last chunk, 0x00 for the others. @param {number} index @param {boolean} final */
export function chunkNonce(index, final) {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(3, BigInt(index));
  out[11] = final ? 1 : 0;
  return out;
}

/** @param {CryptoKey} key @param {number} index @param {boolean} final @param {Uint8Array} data @param {Uint8Array} aad */
async function seal(key, index, final, data, aad) {
  const params = { name: 'AES-GCM', iv: chunkNonce(index, final), additionalData: aad, tagLength: 128 };
  return new Uint8Array(await subtle.encrypt(params, key, data));
}

/** The chunk's plaintext, or null when it does not open. @param {CryptoKey} key @param {number} index @param {boolean} final @param {Uint8Array} data @param {Uint8Array} aad */
async function open(key, index, final, data, aad) {
  const params = { name: 'AES-GCM', iv: chunkNonce(index, final), additionalData: aad, tagLength: 128 };
  try {
    return new Uint8Array(await subtle.decrypt(params, key, data));
  } catch {
    return null;
  }
}

/** @param {Uint8Array[]} pieces */
async function digest(pieces) {
  return new Uint8Array(await subtle.digest('SHA-256', concat(...pieces)));
}

/** Encrypts one file for one booklet; `update` then `finish`, awaited in turn, give the blob. */
export class FileEncryptor {
  /**
   * The key and the file id are drawn from `rng` (in that order) unless given.
   * @param {Uint8Array} bookletId
   * @param {{fileKey?: Uint8Array, fileId?: Uint8Array, chunkSize?: number, rng?: Rng}} [options]
   */
  static async create(bookletId, { fileKey, fileId, chunkSize = CHUNK_SIZE, rng = randomBytes } = {}) {
    if (!validChunkSize(chunkSize)) throw new RangeError('chunk size must be a power of two from 64 to 1 MiB');
    const key = fileKey ? bytes(fileKey, 32) : draw(rng, 32);
    const id = fileId ? bytes(fileId, 16) : draw(rng, 16);
    const header = encodeFileHeader(bookletId, id, chunkSize);
    return new FileEncryptor(key.slice(), id.slice(), bytes(bookletId, 16).slice(), chunkSize, header,
      await chunkKey(key, bookletId, id));
  }

  /** @private @param {Uint8Array} fileKey @param {Uint8Array} fileId @param {Uint8Array} bookletId @param {number} chunkSize @param {Uint8Array} header @param {CryptoKey} key */
  constructor(fileKey, fileId, bookletId, chunkSize, header, key) {
    this.fileKey = fileKey;
    this.fileId = fileId;
    this.bookletId = bookletId;
    this.chunkSize = chunkSize;
    this.header = header;
    /** @private */ this.key = key;
    /** @private @type {Uint8Array[]} the plaintext so far, for the hash */ this.plain = [];
    /** @private */ this.buf = new Uint8Array(0);
    /** @private */ this.index = 0;
    /** @private */ this.headerSent = false;
    /** @private */ this.finished = false;
    /** @private @type {number | null} */ this.total = null;
    /** @private @type {Uint8Array | null} */ this.hash = null;
  }

  /** @private @param {Uint8Array[]} out */
  start(out) {
    if (!this.headerSent) out.push(this.header);
    this.headerSent = true;
  }

  /**
   * The ciphertext that `data` completes (the header first); a full chunk is held back until
   * more follows, since only `finish` knows which chunk is the last.
   * @param {Uint8Array} data @returns {Promise<Uint8Array>}
   */
  async update(data) {
    if (this.finished) throw new Error('the encryptor is finished');
    const piece = bytes(data).slice();
    this.plain.push(piece);
    this.buf = this.buf.length ? concat(this.buf, piece) : piece;
    /** @type {Uint8Array[]} */
    const out = [];
    this.start(out);
    let at = 0;
    while (this.buf.length - at > this.chunkSize) {
      out.push(await seal(this.key, this.index++, false, this.buf.subarray(at, at + this.chunkSize), this.header));
      at += this.chunkSize;
    }
    this.buf = this.buf.slice(at);
    return concat(...out);
  }

  /** The last chunk, flagged final. @returns {Promise<Uint8Array>} */
  async finish() {
    if (this.finished) throw new Error('the encryptor is finished');
    this.finished = true;
    /** @type {Uint8Array[]} */
    const out = [];
    this.start(out);
    out.push(await seal(this.key, this.index++, true, this.buf, this.header));
    this.buf = new Uint8Array(0);
    this.total = this.plain.reduce((n, p) => n + p.length, 0);
    this.hash = await digest(this.plain);
    this.plain = [];
    return concat(...out);
  }

  /** Plaintext bytes, once finished. */
  get size() {
    if (this.total === null) throw new Error('the encryptor is not finished');
    return this.total;
  }

  /** SHA-256 of the plaintext, unlabelled, once finished. */
  get sha256() {
    if (this.hash === null) throw new Error('the encryptor is not finished');
    return this.hash;
  }
}

/**
 * Decrypts and checks one blob against what its entry says (§4.7 "Reading"): feed it in pieces
 * to `update` (each awaited before the next), which returns the plaintext they complete; then
 * `finish`, which checks the end and the SHA-256. Keep the file only if `finish` succeeds.
 */
export class FileDecryptor {
  /**
   * @param {{fileKey: Uint8Array, bookletId: Uint8Array, fileId: Uint8Array, size: number, sha256: Uint8Array}} expected
   */
  static async create({ fileKey, bookletId, fileId, size, sha256 }) {
    if (!Number.isSafeInteger(size) || size < 0) throw new ProtocolError('malformed', 'file size out of range');
    const key = await chunkKey(bytes(fileKey, 32), bytes(bookletId, 16), bytes(fileId, 16));
    return new FileDecryptor(key, bytes(bookletId, 16).slice(), bytes(fileId, 16).slice(), size, bytes(sha256, 32).slice());
  }

  /** @private @param {CryptoKey} key @param {Uint8Array} bookletId @param {Uint8Array} fileId @param {number} size @param {Uint8Array} sha256 */
  constructor(key, bookletId, fileId, size, sha256) {
    /** @private */ this.key = key;
    /** @private */ this.bookletId = bookletId;
    /** @private */ this.fileId = fileId;
    /** @private */ this.size = size;
    /** @private */ this.expectedHash = sha256;
    /** @private @type {Uint8Array | null} */ this.header = null;
    /** @private */ this.count = 0;
    /** @private */ this.lastLen = 0;
    /** @private */ this.chunkSize = 0;
    /** @private */ this.index = 0;
    /** @private */ this.buf = new Uint8Array(0);
    /** @private @type {Uint8Array[]} */ this.plain = [];
    /** @private @type {ProtocolError | null} */ this.error = null;
    /** @private */ this.finished = false;
  }

  /** @param {Uint8Array} data @returns {Promise<Uint8Array>} */
  async update(data) {
    if (this.error) throw this.error;
    if (this.finished) throw new Error('the decryptor is finished');
    try {
      return await this.take(bytes(data));
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.error = e;
        this.buf = new Uint8Array(0);
        this.plain = [];
      }
      throw e;
    }
  }

  /** @private @param {Uint8Array} data */
  async take(data) {
    if (this.header && this.index === this.count) {
      if (data.length) throw new ProtocolError('file-extended', 'bytes after the final chunk');
      return new Uint8Array(0);
    }
    this.buf = this.buf.length ? concat(this.buf, data) : data.slice();
    if (!this.header) {
      if (this.buf.length < HEADER_LEN) return new Uint8Array(0);
      this.start(this.buf.slice(0, HEADER_LEN));
      this.buf = this.buf.subarray(HEADER_LEN);
    }
    /** @type {Uint8Array[]} */
    const out = [];
    let at = 0;
    while (this.index < this.count) {
      const final = this.index === this.count - 1;
      const need = (final ? this.lastLen : this.chunkSize) + TAG_LEN;
      if (this.buf.length - at < need) break;
      out.push(await this.openChunk(this.buf.subarray(at, at + need), this.index, final));
      at += need;
      this.index++;
    }
    if (this.index === this.count && this.buf.length > at) {
      throw new ProtocolError('file-extended', 'bytes after the final chunk');
    }
    this.buf = this.buf.slice(at);
    const plaintext = concat(...out);
    if (plaintext.length) this.plain.push(plaintext);
    return plaintext;
  }

  /** @private @param {Uint8Array} header */
  start(header) {
    const parsed = parseFileHeader(header);
    if (!equal(parsed.bookletId, this.bookletId)) throw new ProtocolError('wrong-booklet', "the file blob is another booklet's");
    if (!equal(parsed.fileId, this.fileId)) throw new ProtocolError('file-wrong-file', "the blob is another file's");
    this.header = header;
    this.chunkSize = parsed.chunkSize;
    this.count = chunkCount(this.size, parsed.chunkSize);
    this.lastLen = this.size - (this.count - 1) * parsed.chunkSize;
  }

  /** @private @param {Uint8Array} ct @param {number} index @param {boolean} final */
  async openChunk(ct, index, final) {
    const header = /** @type {Uint8Array} */ (this.header);
    const pt = await open(this.key, index, final, ct, header);
    if (pt) return pt;
    // Only naming the error: a chunk that opens at another position was moved.
    for (let j = 0; j < this.count; j++) {
      if (j !== index && (await open(this.key, j, j === this.count - 1, ct, header))) {
        throw new ProtocolError('file-chunk-order', `chunk ${index} is chunk ${j}`);
      }
    }
    throw new ProtocolError('file-chunk-invalid', `chunk ${index} does not open`);
  }

  /** Checks that the blob ended after its final chunk, and the plaintext's SHA-256. */
  async finish() {
    if (this.error) throw this.error;
    if (this.finished) return;
    try {
      if (!this.header || this.index < this.count) throw new ProtocolError('file-truncated', 'the blob ends before its final chunk');
      if (!equal(await digest(this.plain), this.expectedHash)) {
        throw new ProtocolError('file-hash-mismatch', 'the file is not the one the entry names');
      }
    } catch (e) {
      if (e instanceof ProtocolError) this.error = e;
      throw e;
    } finally {
      this.plain = [];
    }
    this.finished = true;
  }
}

/**
 * A whole file at once: the blob with the file key, file id, size and SHA-256 an attachment needs.
 * @param {Uint8Array} plaintext @param {Uint8Array} bookletId
 * @param {{fileKey?: Uint8Array, fileId?: Uint8Array, chunkSize?: number, rng?: Rng}} [options]
 */
export async function encryptFile(plaintext, bookletId, options = {}) {
  const enc = await FileEncryptor.create(bookletId, options);
  const blob = concat(await enc.update(plaintext), await enc.finish());
  return { blob, fileKey: enc.fileKey, fileId: enc.fileId, chunkSize: enc.chunkSize, size: enc.size, sha256: enc.sha256 };
}

/**
 * A whole blob at once, every check of §4.7.
 * @param {Uint8Array} blob
 * @param {{fileKey: Uint8Array, bookletId: Uint8Array, fileId: Uint8Array, size: number, sha256: Uint8Array}} expected
 */
export async function decryptFile(blob, expected) {
  const dec = await FileDecryptor.create(expected);
  const out = await dec.update(blob);
  await dec.finish();
  return out;
}
