/**
 * The sealed client state (type 0x40, docs/protocol.md §6.5): pins, checkpoints and whom entries
 * were sealed to, sealed to the account's own key so the server can keep them for its other
 * devices and for shared computers without reading them. The key is derived from the identity
 * seed as a non-extractable CryptoKey, so its bytes never exist in this page.
 */
import { Reader, Writer, bytes, equal, utf8 } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { TYPE } from './labels.mjs';
import { aesGcmDecrypt, aesGcmEncrypt, draw, randomBytes } from './primitives.mjs';

/** @typedef {import('./primitives.mjs').Rng} Rng */

const TAG = 16;
export const MAX_STATE_BYTES = 1 << 20;
const MIN_CT = TAG;
const MAX_CT = MAX_STATE_BYTES + TAG;
const ROLES = new Set(['therapist', 'guardian', 'caregiver']);
const ID = /^[0-9a-f]{32}$/;
const HASH = /^[0-9a-f]{64}$/;

/**
 * @typedef {object} StatePin
 * @property {string} identity_key @property {boolean} verified @property {string | null} name
 * @property {boolean} name_pinned @property {Record<string, string>} roles @property {boolean} key_conflict
 */
/** @typedef {{seq: number, entry_hash: string, joined_seq: number, accepted: number}} StateCheckpoint accepted: how often the history was accepted after a restore */
/**
 * @typedef {object} ClientState the plaintext of §6.5, in its JSON shape
 * @property {1} v
 * @property {Record<string, StatePin>} pins account id → pin
 * @property {Record<string, StateCheckpoint>} checkpoints booklet id → checkpoint
 * @property {Record<string, string[]>} sealed_to booklet id → sorted account ids
 */

// In its own module: the login screen derives the key (keys.mjs) without loading the rest of this one.
export { deriveStateKey } from './state-key.mjs';

/**
 * The state as its writer writes it: UTF-8 JSON, keys sorted, no spaces. Checked first, so a
 * client never seals what another would refuse to open.
 * @param {ClientState} state @returns {Uint8Array}
 */
export function encodeState(state) {
  return utf8.encode(canonicalJson(checkState(state)));
}

/** @param {unknown} value @returns {string} */
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Strict reading of a state's bytes: every defect is `bad-payload`; members it does not know are
 * left out, as §6.5 asks of readers.
 * @param {Uint8Array} data @returns {ClientState}
 */
export function parseState(data) {
  let json;
  try {
    json = JSON.parse(fractionsAsStrings(utf8.decode(bytes(data, undefined, 'bad-payload'))));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError('bad-payload', 'not JSON');
  }
  return checkState(json);
}

/** A JSON number with a fraction or an exponent: 3.0 is not the integer 3 in every reader. */
const FRACTION = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * The JSON text with every number written with a fraction or an exponent turned into a string,
 * so that where §6.5 asks for an integer it is refused (as Python's reader refuses 3.0), and
 * where a member is unknown it is still ignored. JSON.parse sees 3.0 and 3 alike; malformed
 * numbers are left for it to refuse.
 * @param {string} text @returns {string}
 */
export function fractionsAsStrings(text) {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let end = i;
      while (end < text.length && /[-+0-9.eE]/.test(text[end])) end++;
      const token = text.slice(i, end);
      if (/[.eE]/.test(token) && FRACTION.test(token)) {
        out += `${text.slice(from, i)}"${token}"`;
        from = end;
      }
      i = end - 1;
    }
  }
  return out + text.slice(from);
}

/** A lone surrogate (from a \\ud800 escape) is not text: no UTF-8 writer can write it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** @param {boolean} ok @param {string} what */
function need(ok, what) {
  if (!ok) throw new ProtocolError('bad-payload', what);
}

const isHex = (/** @type {unknown} */ x, /** @type {RegExp} */ re) => typeof x === 'string' && re.test(x);
const isObject = (/** @type {unknown} */ x) => x !== null && typeof x === 'object' && !Array.isArray(x);
const isCount = (/** @type {unknown} */ x, /** @type {number} */ min) => Number.isSafeInteger(x) && /** @type {number} */ (x) >= min;

/**
 * Validate a state and return it with only the members §6.5 defines (a missing `key_conflict`
 * is false). @param {any} s @returns {ClientState}
 */
function checkState(s) {
  need(isObject(s) && s.v === 1, 'v');
  need(isObject(s.pins) && isObject(s.checkpoints) && isObject(s.sealed_to), 'sections');
  /** @type {ClientState} */
  const out = { v: 1, pins: {}, checkpoints: {}, sealed_to: {} };
  for (const [id, p] of Object.entries(s.pins)) {
    need(ID.test(id) && isObject(p), 'pin');
    need(isHex(p.identity_key, HASH) && typeof p.verified === 'boolean', 'pin key');
    need(p.name === null || (typeof p.name === 'string' && !LONE_SURROGATE.test(p.name)), 'pin name');
    need(typeof p.name_pinned === 'boolean', 'pin name_pinned');
    need(p.key_conflict === undefined || typeof p.key_conflict === 'boolean', 'pin key_conflict');
    // Verifying clears the flag and merging never sets it on a verified pin (as the Python reader checks).
    need(!(p.verified && p.key_conflict), 'pin verified and in key conflict');
    need(isObject(p.roles) && Object.entries(p.roles).every(([b, r]) => ID.test(b) && ROLES.has(/** @type {string} */ (r))), 'pin roles');
    out.pins[id] = {
      identity_key: p.identity_key, verified: p.verified, name: p.name, name_pinned: p.name_pinned,
      roles: { ...p.roles }, key_conflict: p.key_conflict ?? false,
    };
  }
  for (const [id, c] of Object.entries(s.checkpoints)) {
    need(ID.test(id) && isObject(c) && isCount(c.seq, 1) && isHex(c.entry_hash, HASH) && isCount(c.joined_seq, 0), 'checkpoint');
    need(c.accepted === undefined || isCount(c.accepted, 0), 'checkpoint accepted'); // absent: 0
    out.checkpoints[id] = { seq: c.seq, entry_hash: c.entry_hash, joined_seq: c.joined_seq, accepted: c.accepted ?? 0 };
  }
  for (const [id, list] of Object.entries(s.sealed_to)) {
    need(ID.test(id) && Array.isArray(list) && list.every((a) => isHex(a, ID)), 'sealed_to');
    need(list.every((a, i) => i === 0 || list[i - 1] < a), 'sealed_to order');
    out.sealed_to[id] = [...list];
  }
  return out;
}

/**
 * @typedef {object} StateHeader
 * @property {Uint8Array} accountId @property {number} version @property {Uint8Array} nonce
 * @property {Uint8Array} aad bytes[0:44] @property {Uint8Array} ct
 */

/**
 * The header of a sealed state, with the structural checks of §6.5 (layout, then `ct_len` and
 * `version`): what a client needs to know before it has, or uses, the key.
 * @param {Uint8Array} data @returns {StateHeader}
 */
export function peekHeader(data) {
  const r = new Reader(data, TYPE.CLIENT_STATE);
  const accountId = r.take(16);
  const version = new DataView(r.take(8).buffer).getBigUint64(0);
  const nonce = r.take(12);
  const ctLen = r.u32();
  const aad = r.consumed();
  // Bounds before the ciphertext is read: a length of 4 GiB is malformed, not truncated.
  // Versions stop at 2^53 - 1 (the API carries them as JSON numbers), checked with the others.
  if (version === 0n || version > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('malformed', 'version');
  if (ctLen < MIN_CT || ctLen > MAX_CT) throw new ProtocolError('malformed', 'state ciphertext length');
  const ct = r.take(ctLen);
  r.end();
  return { accountId, version: Number(version), nonce, aad, ct };
}

/**
 * Seal a state to the account's own key, as version `version`.
 * @param {CryptoKey | Uint8Array} stateKey
 * @param {{accountId: Uint8Array, version: number, state: ClientState}} what
 * @param {Rng} [rng] for the nonce
 * @returns {Promise<Uint8Array>}
 */
export async function sealState(stateKey, { accountId, version, state }, rng = randomBytes) {
  if (!Number.isSafeInteger(version) || version < 1) throw new ProtocolError('malformed', 'version');
  const plain = encodeState(state);
  if (plain.length > MAX_STATE_BYTES) throw new ProtocolError('malformed', 'state too large');
  const writer = new Writer(TYPE.CLIENT_STATE).fixed(accountId, 16).u64(version).raw(draw(rng, 12)).u32(plain.length + TAG);
  const head = writer.finish();
  const ct = await aesGcmEncrypt(stateKey, head.subarray(28, 40), plain, head);
  return writer.raw(ct).finish();
}

/**
 * Open a sealed state with the checks of §6.5, in order: layout, bounds, the opener's own
 * account (`account-mismatch`), AES-GCM (`state-decrypt-failed`), the JSON (`bad-payload`).
 * @param {CryptoKey | Uint8Array} stateKey @param {Uint8Array} accountId the opener's
 * @param {Uint8Array} data
 * @returns {Promise<{version: number, state: ClientState, plaintext: Uint8Array}>}
 */
export async function openState(stateKey, accountId, data) {
  const head = peekHeader(data);
  if (!equal(head.accountId, bytes(accountId, 16))) throw new ProtocolError('account-mismatch');
  const plaintext = await aesGcmDecrypt(stateKey, head.nonce, head.ct, head.aad, 'state-decrypt-failed');
  return { version: head.version, state: parseState(plaintext), plaintext };
}

/** The state of a client that holds nothing yet. @returns {ClientState} */
export const emptyState = () => ({ v: 1, pins: {}, checkpoints: {}, sealed_to: {} });
