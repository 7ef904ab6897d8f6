/**
 * Sharing one file with someone outside the booklet (docs/protocol.md §4.8): the recipient's
 * side (and the sharer's, for tests and the inbox). The same as crypto/share.py.
 *
 * share_key    = HKDF(link_secret ‖ code, "secure-msg/v1/share-key" 0x00 ‖ share_id)
 * access_token = HKDF(link_secret ‖ code, "secure-msg/v1/share-access" 0x00 ‖ share_id)
 * verifier     = SHA-256("secure-msg/v1/share-verifier" 0x00 ‖ access_token)
 */
import { bytes, concat, equal, fromBase64url, fromHex, toBase64url, toHex, utf8 } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { checkAttachment } from './file-meta.mjs';
import { LABEL, SUITE, TYPE, VERSION, labelled } from './labels.mjs';
import { aesGcmDecrypt, aesGcmEncrypt, draw, hkdfExpand, hkdfExtract, randomBytes, sha256 } from './primitives.mjs';

export const SHARE_ID_LEN = 16;
export const LINK_SECRET_LEN = 16;
export const NONCE_LEN = 12;
const HEAD_LEN = 4 + SHARE_ID_LEN;
const MIN_SEALED = HEAD_LEN + NONCE_LEN + 16;
const MAX_SEALED = 4096;
const CODE_LIMIT = 42 * 10 ** 8;
const HEX32 = /^[0-9a-f]{32}$/;

/** The code as typed: spaces and dashes dropped, then exactly 8 ASCII digits. @param {string} code */
export function checkCode(code) {
  const cleaned = String(code).replace(/[\s-]/g, '');
  if (!/^[0-9]{8}$/.test(cleaned)) throw new ProtocolError('share-code-malformed', 'the code is 8 digits');
  return cleaned;
}

/** @param {Uint8Array} ikm @param {string} label @param {Uint8Array} shareId */
async function derivedKey(ikm, label, shareId) {
  return hkdfExpand(await hkdfExtract(new Uint8Array(0), ikm), labelled(label, shareId), 32);
}

/** @param {Uint8Array} token */
export const verifier = (token) => sha256(LABEL.SHARE_VERIFIER, token);

/**
 * @param {Uint8Array} shareId @param {Uint8Array} linkSecret @param {string} code
 * @returns {Promise<{key: Uint8Array, token: Uint8Array, verifier: Uint8Array}>}
 */
export async function deriveShareKeys(shareId, linkSecret, code) {
  if (!(shareId instanceof Uint8Array) || shareId.length !== SHARE_ID_LEN
      || !(linkSecret instanceof Uint8Array) || linkSecret.length !== LINK_SECRET_LEN) {
    throw new ProtocolError('share-link-malformed');
  }
  const ikm = concat(linkSecret, utf8.encode(checkCode(code)));
  const token = await derivedKey(ikm, LABEL.SHARE_ACCESS, shareId);
  return { key: await derivedKey(ikm, LABEL.SHARE_KEY, shareId), token, verifier: await verifier(token) };
}

/** 8 uniformly random digits. @param {(n: number) => Uint8Array} [rng] */
export function newCode(rng = randomBytes) {
  for (;;) {
    const b = draw(rng, 4);
    const v = ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
    if (v < CODE_LIMIT) return String(v % 10 ** 8).padStart(8, '0');
  }
}

/** @param {Uint8Array} shareId */
export function shareHead(shareId) {
  return concat(Uint8Array.of(VERSION, SUITE >> 8, SUITE & 0xff, TYPE.SHARE), bytes(shareId, SHARE_ID_LEN));
}

/** The share id of a sealed share, its layout checked (no key). @param {Uint8Array} sealed */
export function parseSealedShare(sealed) {
  if (sealed.length < MIN_SEALED) throw new ProtocolError('truncated', 'sealed share');
  if (sealed.length > MAX_SEALED) throw new ProtocolError('malformed', 'sealed share too long');
  if (sealed[0] !== VERSION) throw new ProtocolError('unsupported-version');
  if (((sealed[1] << 8) | sealed[2]) !== SUITE) throw new ProtocolError('unsupported-suite');
  if (sealed[3] !== TYPE.SHARE) throw new ProtocolError('wrong-type');
  return sealed.slice(4, HEAD_LEN);
}

/**
 * The record as the writer lays it out: sorted keys, no spaces (Python's json.dumps with
 * sort_keys and separators (",", ":"), ensure_ascii off).
 * @param {{bookletId: Uint8Array, attachment: Record<string, unknown>}} shared
 */
export function encodeRecord(shared) {
  /** @type {Record<string, unknown>} */
  const body = { booklet_id: toHex(shared.bookletId), ...shared.attachment };
  const sorted = Object.fromEntries(Object.keys(body).sort().map((k) => [k, body[k]]));
  return utf8.encode(JSON.stringify(sorted));
}

/** @param {Uint8Array} plain */
export function decodeRecord(plain) {
  let value;
  try {
    value = JSON.parse(utf8.decode(plain));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError('bad-payload', 'share record is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProtocolError('bad-payload', 'share record is not an object');
  if (typeof value.booklet_id !== 'string' || !HEX32.test(value.booklet_id)) throw new ProtocolError('bad-payload', 'share booklet_id');
  return { bookletId: fromHex(value.booklet_id), attachment: checkAttachment(value) };
}

/**
 * @param {{key: Uint8Array}} keys @param {Uint8Array} shareId
 * @param {{bookletId: Uint8Array, attachment: Record<string, unknown>}} shared @param {Uint8Array} nonce
 */
export async function sealShare(keys, shareId, shared, nonce) {
  const head = shareHead(shareId);
  return concat(head, bytes(nonce, NONCE_LEN), await aesGcmEncrypt(keys.key, nonce, encodeRecord(shared), head));
}

/** @param {{key: Uint8Array}} keys @param {Uint8Array} shareId @param {Uint8Array} sealed */
export async function openSealedShare(keys, shareId, sealed) {
  if (!equal(parseSealedShare(sealed), shareId)) throw new ProtocolError('share-decrypt-failed', 'sealed for another share');
  const plain = await aesGcmDecrypt(keys.key, sealed.subarray(HEAD_LEN, HEAD_LEN + NONCE_LEN),
    sealed.subarray(HEAD_LEN + NONCE_LEN), sealed.subarray(0, HEAD_LEN), 'share-decrypt-failed');
  return decodeRecord(plain);
}

/** `{base}/share/#{id hex}.{secret base64url}`. @param {string} base @param {Uint8Array} shareId @param {Uint8Array} linkSecret */
export function shareLink(base, shareId, linkSecret) {
  return `${base.replace(/\/+$/, '')}/share/#${toHex(shareId)}.${toBase64url(linkSecret)}`;
}

/** (shareId, linkSecret) of a link's fragment, with or without '#'. @param {string} fragment */
export function parseFragment(fragment) {
  const m = /^#?([0-9a-f]{32})\.([A-Za-z0-9_-]{22})$/.exec(fragment);
  if (!m) throw new ProtocolError('share-link-malformed');
  const secret = fromBase64url(m[2]);
  if (toBase64url(secret) !== m[2]) throw new ProtocolError('share-link-malformed');
  return { shareId: fromHex(m[1]), linkSecret: secret };
}
