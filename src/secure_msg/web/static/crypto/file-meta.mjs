/**
 * Files attached to a document entry (docs/protocol.md §4.5, §4.7): the attachment record's
 * checks, the file-name sanitiser and the media-type allow-list. Pure; crypto/attachments.py
 * does exactly the same, and tests/vectors/file-v1.json holds the cases both run.
 */
import { ProtocolError } from './errors.mjs';

export const MAX_ATTACHMENTS = 64;
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER; // 2^53 − 1
/** A blob id goes into a URL path: no "/", "." or "%". */
export const BLOB_ID = /^[A-Za-z0-9_-]{1,128}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** @param {string} what */
const bad = (what) => new ProtocolError('bad-payload', `attachment ${what}`);

/**
 * @typedef {{blob_id: string, file_id: string, key: string, name: string, media_type: string,
 *   size: number, sha256: string}} AttachmentJson
 */

/**
 * The members of one attachment with their forms (§4.5), others left out. The payload must have
 * been parsed with numbers that have a fraction or an exponent turned into strings (payload.mjs
 * does), so that 1.0 and 1e0 are not taken for integers.
 * @param {unknown} value @returns {AttachmentJson}
 */
export function checkAttachment(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('is not an object');
  const v = /** @type {Record<string, unknown>} */ (value);
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, re] of /** @type {[string, RegExp][]} */ ([['blob_id', BLOB_ID], ['file_id', HEX32], ['key', HEX64], ['sha256', HEX64]])) {
    const x = v[name];
    if (!Object.hasOwn(v, name) || typeof x !== 'string' || !re.test(x)) throw bad(name);
    out[name] = x;
  }
  for (const name of ['name', 'media_type']) {
    if (!Object.hasOwn(v, name) || typeof v[name] !== 'string') throw bad(name);
    out[name] = v[name];
  }
  const size = v.size;
  // -0 is an integer to JSON.parse but a sign no writer writes; Python's reader refuses it too.
  if (!Number.isSafeInteger(size) || /** @type {number} */ (size) < 0 || Object.is(size, -0)) throw bad('size');
  out.size = size;
  return /** @type {AttachmentJson} */ (out);
}

/** @param {unknown} value @returns {AttachmentJson[]} */
export function checkAttachments(value) {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_ATTACHMENTS) {
    throw bad(`list must hold 1 to ${MAX_ATTACHMENTS} attachments`);
  }
  return value.map(checkAttachment);
}

// --- file names ------------------------------------------------------------------------------

export const MAX_NAME_CHARS = 100;
const MAX_EXT_CHARS = 10;
/** Controls, the bidi formatting characters of UAX #9, U+2028, U+2029 and U+FEFF: dropped. */
const DROP = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/gu;
/** Path separators and what Windows refuses in a name: each becomes "_". */
const REPLACE = /[/\\:*?"<>|]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const RESERVED = new Set(['CON', 'PRN', 'AUX', 'NUL',
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => [`COM${i}`, `LPT${i}`])]);

/** @param {string} s */
const stripSpacesDots = (s) => s.replace(/^[ .]+|[ .]+$/g, '');
/** @param {string} s */
const stripEnd = (s) => s.replace(/[ .]+$/, '');

/**
 * A name safe to save a downloaded file under, the same as crypto/attachments.py's (§4.7): lone
 * surrogates become U+FFFD; NFC; controls, bidi controls, U+2028, U+2029 and U+FEFF are dropped;
 * / \ : * ? " < > | become "_"; leading and trailing spaces and dots go; a Windows device name
 * gets a "_" in front; at most 100 code points, keeping an extension of up to 10; "file" when
 * nothing is left.
 * @param {string} name @returns {string}
 */
export function sanitiseFilename(name) {
  let s = String(name).replace(LONE_SURROGATE, '\ufffd').normalize('NFC');
  s = stripSpacesDots(s.replace(DROP, '').replace(REPLACE, '_'));
  if (RESERVED.has(s.split('.', 1)[0].replace(/ +$/, '').toUpperCase())) s = `_${s}`;
  const chars = Array.from(s); // code points, as Python counts
  if (chars.length > MAX_NAME_CHARS) {
    const dot = chars.lastIndexOf('.');
    const ext = dot > 0 ? chars.slice(dot + 1) : [];
    if (ext.length >= 1 && ext.length <= MAX_EXT_CHARS) {
      s = `${stripEnd(chars.slice(0, MAX_NAME_CHARS - 1 - ext.length).join(''))}.${ext.join('')}`;
    } else {
      s = stripEnd(chars.slice(0, MAX_NAME_CHARS).join(''));
    }
  }
  return s || 'file';
}

// --- media types -----------------------------------------------------------------------------

/** Shown inline as an image (an <img> of a blob: URL): formats browsers decode as pixels only. */
export const INLINE_IMAGE_TYPES = Object.freeze(new Set(['image/jpeg', 'image/png', 'image/webp']));
/** Offered for download only, never rendered by the app. */
export const DOWNLOAD_TYPES = Object.freeze(new Set([
  'application/pdf',
  'image/heic', 'image/heif',
  'text/plain',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.oasis.opendocument.spreadsheet',
  'application/vnd.oasis.opendocument.presentation',
]));
export const ALLOWED_MEDIA_TYPES = Object.freeze(new Set([...INLINE_IMAGE_TYPES, ...DOWNLOAD_TYPES]));
const BY_EXTENSION = Object.freeze({
  pdf: 'application/pdf', jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png',
  webp: 'image/webp', heic: 'image/heic', heif: 'image/heif', txt: 'text/plain',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
});

/** Lower case, parameters (after ";") and surrounding spaces and tabs dropped. @param {string} mediaType */
export function normaliseMediaType(mediaType) {
  return String(mediaType).split(';', 1)[0].replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase();
}

/**
 * 'inline' (an image the app may preview), 'download' (saved, never rendered) or null (not
 * allowed: refused on upload, on download offered at most as application/octet-stream).
 * `allowed` narrows the list (a practice's configuration), never widens it.
 * @param {string} mediaType @param {ReadonlySet<string>} [allowed] @returns {'inline' | 'download' | null}
 */
export function mediaTypePolicy(mediaType, allowed = ALLOWED_MEDIA_TYPES) {
  const mt = normaliseMediaType(mediaType);
  if (!allowed.has(mt) || !ALLOWED_MEDIA_TYPES.has(mt)) return null;
  return INLINE_IMAGE_TYPES.has(mt) ? 'inline' : 'download';
}

/** The allowed media type a file name's extension stands for, or null. @param {string} name */
export function mediaTypeForName(name) {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return null;
  const ext = name.slice(dot + 1).toLowerCase();
  return Object.hasOwn(BY_EXTENSION, ext) ? BY_EXTENSION[/** @type {keyof BY_EXTENSION} */ (ext)] : null;
}
