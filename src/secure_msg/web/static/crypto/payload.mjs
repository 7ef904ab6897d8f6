/** Entry kinds and payloads (docs/protocol.md §4.5): the JSON inside an entry's ciphertext. */
import { utf8 } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';

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

/** @param {unknown} payload @param {number} kind @returns {Record<string, unknown>} */
function check(payload, kind) {
  if (!isKind(kind)) throw new ProtocolError('unknown-kind');
  const name = KIND_NAMES[kind];
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || payload.kind !== name) {
    throw new ProtocolError('bad-payload', 'kind does not match the header');
  }
  const { required, optional = {} } = FIELDS[name];
  for (const [field, type] of Object.entries(required)) {
    if (typeof payload[field] !== type) throw new ProtocolError('bad-payload', `field ${field}`);
  }
  for (const [field, type] of Object.entries(optional)) {
    if (field in payload && typeof payload[field] !== type) throw new ProtocolError('bad-payload', `field ${field}`);
  }
  return /** @type {Record<string, unknown>} */ (payload);
}

/**
 * The plaintext for an entry of `kind`: its fields plus `"kind"`, as UTF-8 JSON.
 * @param {number} kind @param {Record<string, unknown>} fields @returns {Uint8Array}
 */
export function encodePayload(kind, fields) {
  if (!isKind(kind)) throw new ProtocolError('unknown-kind');
  const payload = { kind: KIND_NAMES[kind], ...fields };
  return utf8.encode(JSON.stringify(check(payload, kind)));
}

/** Check 11 of §4.4. @param {number} kind @param {Uint8Array} plaintext @returns {Record<string, unknown>} */
export function decodePayload(kind, plaintext) {
  let payload;
  try {
    // JSON.parse takes RFC 8259 only (no NaN or Infinity); any failure, deep nesting included, is bad-payload.
    payload = JSON.parse(utf8.decode(plaintext));
  } catch {
    throw new ProtocolError('bad-payload', 'not UTF-8 JSON');
  }
  return check(payload, kind);
}
