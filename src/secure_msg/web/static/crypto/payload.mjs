/** Entry kinds and payloads (docs/protocol.md §4.5): the JSON inside an entry's ciphertext. */
import { fractionsAsStrings } from './client-state.mjs';
import { utf8 } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { checkAttachments } from './file-meta.mjs';

/** Header kind byte → payload kind name. @type {Readonly<Record<number, string>>} */
export const KIND_NAMES = Object.freeze({
  1: 'title', 2: 'note', 3: 'homework', 4: 'homework-log', 5: 'document', 6: 'system',
});

/** Payload kind name → header kind byte. @type {Readonly<Record<string, number>>} */
export const KIND = Object.freeze(Object.fromEntries(Object.entries(KIND_NAMES).map(([k, v]) => [v, Number(k)])));

/** Whether `kind` is one of the six header kinds. @param {unknown} kind */
export const isKind = (kind) => Number.isInteger(kind) && Object.hasOwn(KIND_NAMES, /** @type {number} */ (kind));

/** Required fields and their JSON types; `optional` may be absent but must then have the type. */
const FIELDS = {
  title: { required: { title: 'string' } },
  note: { required: { text: 'string' } },
  homework: { required: { task: 'string', frequency: 'string' }, optional: { text: 'string' } },
  'homework-log': { required: { homework: 'string', done: 'boolean', how: 'string', date: 'string' } },
  document: { required: { name: 'string', media_type: 'string', data: 'string' } },
  system: { required: { text: 'string' } },
};

/** Arrays and objects, the payload itself being the first (§4.5). */
const MAX_DEPTH = 64;

/** A lone surrogate (from a \\ud800 escape) is not text: no UTF-8 writer can write it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * `kind` and the fields of §4.5 with their types; the payload with only those members.
 * @param {unknown} payload @param {number} kind @returns {Record<string, unknown>}
 */
function check(payload, kind) {
  if (!isKind(kind)) throw new ProtocolError('unknown-kind');
  const name = KIND_NAMES[kind];
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || payload.kind !== name) {
    throw new ProtocolError('bad-payload', 'kind does not match the header');
  }
  if (name === 'document' && Object.hasOwn(payload, 'attachments')) return checkDocumentV2(payload);
  const { required, optional = {} } = FIELDS[name];
  /** @type {Record<string, unknown>} */
  const out = { kind: name };
  for (const [field, type] of Object.entries(required)) {
    if (!Object.hasOwn(payload, field) || typeof payload[field] !== type) throw new ProtocolError('bad-payload', `field ${field}`);
    out[field] = payload[field];
  }
  for (const [field, type] of Object.entries(optional)) {
    if (!Object.hasOwn(payload, field)) continue;
    if (typeof payload[field] !== type) throw new ProtocolError('bad-payload', `field ${field}`);
    out[field] = payload[field];
  }
  return out;
}

/**
 * A document's second form (§4.5): files as blobs (§4.7) named in `attachments`; the first
 * form's inline `name`, `media_type` and `data` are not read beside it.
 * @param {Record<string, unknown>} payload @returns {Record<string, unknown>}
 */
function checkDocumentV2(payload) {
  /** @type {Record<string, unknown>} */
  const out = { kind: 'document', attachments: checkAttachments(payload.attachments) };
  if (Object.hasOwn(payload, 'text')) {
    if (typeof payload.text !== 'string') throw new ProtocolError('bad-payload', 'field text');
    out.text = payload.text;
  }
  return out;
}

/**
 * What JSON.parse does not tell: a member name given twice in one object (JSON.parse keeps the
 * last, other parsers the first, so two readers would read two entries) and nesting deeper than
 * MAX_DEPTH. A scan of the text, strings skipped; malformed text is left to JSON.parse.
 * @param {string} text
 */
function checkStructure(text) {
  /** @type {(Set<string> | null)[]} member names per open object, null for an array */
  const open = [];
  let wantName = false;
  const stop = /["\\]/g;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (stop.lastIndex = i + 1; ;) {
        const m = stop.exec(text);
        if (!m) throw new ProtocolError('bad-payload', 'unterminated string');
        if (m[0] === '"') {
          i = m.index;
          break;
        }
        stop.lastIndex = m.index + 2; // past the escaped character
      }
      const names = open[open.length - 1];
      if (wantName && names) {
        const name = JSON.parse(text.slice(start, i + 1));
        if (names.has(name)) throw new ProtocolError('bad-payload', 'a member name appears twice');
        names.add(name);
      }
      wantName = false;
    } else if (c === '{' || c === '[') {
      if (open.length === MAX_DEPTH) throw new ProtocolError('bad-payload', 'nested too deeply');
      open.push(c === '{' ? new Set() : null);
      wantName = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
      wantName = false;
    } else if (c === ',') {
      wantName = open[open.length - 1] instanceof Set;
    }
  }
}

/** No lone surrogate in any string or member name. @param {unknown} root */
function checkStrings(root) {
  const stack = [root];
  while (stack.length) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) throw new ProtocolError('bad-payload', 'a lone surrogate is not text');
    } else if (value && typeof value === 'object') {
      for (const [name, child] of Object.entries(value)) stack.push(name, child);
    }
  }
}

/**
 * The plaintext for an entry of `kind`: its fields plus `"kind"`, as UTF-8 JSON. Refused
 * (`bad-payload`) if a reader would refuse it.
 * @param {number} kind @param {Record<string, unknown>} fields @returns {Uint8Array}
 */
export function encodePayload(kind, fields) {
  if (!isKind(kind)) throw new ProtocolError('unknown-kind');
  const payload = check({ kind: KIND_NAMES[kind], ...fields }, kind);
  checkStrings(payload);
  return utf8.encode(JSON.stringify(payload));
}

/**
 * Check 11 of §4.4: the payload's `kind` and fields of §4.5, other members left out; every rule
 * of §4.5 the same as the Python reader (crypto/payloads.py).
 * @param {number} kind @param {Uint8Array} plaintext @returns {Record<string, unknown>}
 */
export function decodePayload(kind, plaintext) {
  const text = utf8.decode(plaintext);
  let payload;
  try {
    checkStructure(text);
    // JSON.parse takes RFC 8259 only (no NaN or Infinity, no byte-order mark); any failure is bad-payload.
    payload = JSON.parse(text);
    // Attachments hold the one integer of the payloads (`size`): read again with fractions and
    // exponents kept apart, so that 1.0 and 1e0 are refused as Python's reader refuses them.
    if (payload?.kind === 'document' && Object.hasOwn(payload, 'attachments')) payload = JSON.parse(fractionsAsStrings(text));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError('bad-payload', 'not UTF-8 JSON');
  }
  // Strict UTF-8 has no surrogates: one can only come from an escape, so without one nothing is searched.
  if (SURROGATE_ESCAPE.test(text)) checkStrings(payload);
  return check(payload, kind);
}
