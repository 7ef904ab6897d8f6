/** Byte helpers and the fixed binary layout of docs/protocol.md §2: a writer and a strict reader. */
import { ProtocolError } from './errors.mjs';
import { SUITE, VERSION } from './labels.mjs';

export const utf8 = Object.freeze({
  /** @param {string} s */
  encode: (s) => new TextEncoder().encode(s),
  /** Throws ProtocolError('bad-payload') on invalid UTF-8. @param {Uint8Array} b */
  decode(b) {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
    } catch {
      throw new ProtocolError('bad-payload', 'not UTF-8');
    }
  },
});

/**
 * Accept bytes from a caller; anything else is `malformed` rather than a TypeError later on.
 * @param {unknown} value
 * @param {number} [length] required length, if fixed
 * @param {string} [code] error code for a wrong length
 * @returns {Uint8Array}
 */
export function bytes(value, length, code = 'malformed') {
  let out;
  if (value instanceof Uint8Array) out = value;
  else if (value instanceof ArrayBuffer) out = new Uint8Array(value);
  else if (ArrayBuffer.isView(value)) out = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  else throw new ProtocolError(code, 'expected bytes');
  if (length !== undefined && out.length !== length) {
    throw new ProtocolError(code, `expected ${length} bytes, got ${out.length}`);
  }
  return out;
}

/** @param {...Uint8Array} parts @returns {Uint8Array} */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Equality in time independent of where the inputs differ. @param {Uint8Array} a @param {Uint8Array} b */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Lexicographic order of byte strings, as Python compares bytes. @param {Uint8Array} a @param {Uint8Array} b */
export function compare(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** @param {Uint8Array} b @returns {string} lowercase hex */
export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** @param {string} s @returns {Uint8Array} */
export function fromHex(s) {
  if (typeof s !== 'string' || s.length % 2 || /[^0-9a-fA-F]/.test(s)) {
    throw new ProtocolError('malformed', 'not hex');
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {Uint8Array} b @returns {string} unpadded base64url, as the HTTP API writes bytes */
export function toBase64url(b) {
  let bin = '';
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @param {string} s unpadded base64url @returns {Uint8Array} */
export function fromBase64url(s) {
  if (typeof s !== 'string' || /[^A-Za-z0-9_-]/.test(s) || s.length % 4 === 1) {
    throw new ProtocolError('malformed', 'not base64url');
  }
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Builds a fixed layout; fields are checked as they are written. */
export class Writer {
  /** @param {number} type object type byte; the common prefix is written first */
  constructor(type) {
    /** @type {Uint8Array[]} */
    this.parts = [];
    this.u8(VERSION).u16(SUITE).u8(type);
  }

  /**
   * @param {number} size bytes
   * @param {number | bigint} v
   */
  #uint(size, v) {
    const ok = typeof v === 'bigint' || Number.isSafeInteger(v);
    if (!ok || v < 0 || BigInt(v) >> BigInt(8 * size) !== 0n) {
      throw new ProtocolError('malformed', `not a u${8 * size}`);
    }
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    if (size === 8) view.setBigUint64(0, BigInt(v));
    else if (size === 4) view.setUint32(0, Number(v));
    else if (size === 2) view.setUint16(0, Number(v));
    else view.setUint8(0, Number(v));
    return this.raw(out);
  }

  /** @param {number} v */ u8(v) { return this.#uint(1, v); }
  /** @param {number} v */ u16(v) { return this.#uint(2, v); }
  /** @param {number} v */ u32(v) { return this.#uint(4, v); }
  /** @param {number | bigint} v */ u64(v) { return this.#uint(8, v); }

  /** A fixed-length field supplied by a caller. @param {Uint8Array} b @param {number} length */
  fixed(b, length) {
    return this.raw(bytes(b, length));
  }

  /** @param {Uint8Array} b */
  raw(b) {
    this.parts.push(b);
    return this;
  }

  /** @returns {Uint8Array} */
  finish() {
    return concat(...this.parts);
  }
}

/** Reads a fixed layout: a short read is `truncated`, a leftover byte `trailing-data`. */
export class Reader {
  /**
   * Reads the prefix first and rejects in the order of §2.
   * @param {unknown} data
   * @param {...number} types the object types accepted; `type` is then the one read
   */
  constructor(data, ...types) {
    this.data = bytes(data);
    this.pos = 0;
    if (this.data.length < 4) throw new ProtocolError('truncated');
    if (this.u8() !== VERSION) throw new ProtocolError('unsupported-version');
    if (this.u16() !== SUITE) throw new ProtocolError('unsupported-suite');
    /** @type {number} */
    this.type = this.u8();
    if (!types.includes(this.type)) throw new ProtocolError('wrong-type');
  }

  remaining() {
    return this.data.length - this.pos;
  }

  /** @param {number} n @returns {Uint8Array} a copy, so callers never alias the input */
  take(n) {
    if (this.remaining() < n) throw new ProtocolError('truncated');
    this.pos += n;
    return this.data.slice(this.pos - n, this.pos);
  }

  /** @param {number} n */
  #view(n) {
    const b = this.take(n);
    return new DataView(b.buffer);
  }

  u8() { return this.#view(1).getUint8(0); }
  u16() { return this.#view(2).getUint16(0); }
  u32() { return this.#view(4).getUint32(0); }
  /**
   * u64 as a Number: exact up to 2^53 (every real time and sequence); above that it is rounded,
   * which only tampered or absurd objects reach, and signatures cover the raw bytes anyway.
   */
  u64() { return Number(this.#view(8).getBigUint64(0)); }

  /** The input up to the current position. */
  consumed() {
    return this.data.slice(0, this.pos);
  }

  end() {
    if (this.remaining()) throw new ProtocolError('trailing-data');
  }
}
