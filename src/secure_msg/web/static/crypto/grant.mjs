/** History grants (docs/protocol.md §5): an existing member re-wraps earlier content keys to a newcomer. */
import { Reader, Writer, bytes, compare, concat, equal, toHex } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { openBase, sealBase } from './hpke.mjs';
import { LABEL, TYPE, labelled } from './labels.mjs';
import { draw, randomBytes, sign, verify } from './primitives.mjs';

/** @typedef {import('./primitives.mjs').Rng} Rng */
/** @typedef {import('./keys.mjs').AccountKeys} AccountKeys */

const MAX_ITEMS = 100000;
const ITEM_LENGTH = 128;
const EMPTY = new Uint8Array(0);

/**
 * @typedef {object} Grant
 * @property {Uint8Array} bookletId
 * @property {Uint8Array} granterId
 * @property {Uint8Array} granteeId
 * @property {Uint8Array} granteeEk
 * @property {number} createdAt ms
 * @property {{entryId: Uint8Array, entryHash: Uint8Array, enc: Uint8Array, wrappedKey: Uint8Array}[]} items
 * @property {Uint8Array} signedPart
 * @property {Uint8Array} signature
 */

/** @param {Uint8Array} bookletId @param {Uint8Array} entryId @param {Uint8Array} entryHash @param {Uint8Array} granteeId @param {Uint8Array} granteeEk */
const itemInfo = (bookletId, entryId, entryHash, granteeId, granteeEk) =>
  labelled(LABEL.GRANT_KEY, bookletId, entryId, entryHash, granteeId, granteeEk);

/** Structure and canonical item order; the signature is not checked. @param {Uint8Array} data @returns {Grant} */
export function parseGrant(data) {
  const r = new Reader(data, TYPE.GRANT);
  const head = { bookletId: r.take(16), granterId: r.take(16), granteeId: r.take(16), granteeEk: r.take(32), createdAt: r.u64() };
  const count = r.u32();
  if (count < 1 || count > MAX_ITEMS) throw new ProtocolError('bad-item-count');
  if (r.remaining() < count * ITEM_LENGTH) throw new ProtocolError('truncated');
  const items = [];
  for (let i = 0; i < count; i++) {
    items.push({ entryId: r.take(16), entryHash: r.take(32), enc: r.take(32), wrappedKey: r.take(48) });
  }
  const signedPart = r.consumed();
  const signature = r.take(64);
  r.end();
  for (let i = 1; i < items.length; i++) {
    if (compare(items[i - 1].entryId, items[i].entryId) >= 0) throw new ProtocolError('items-not-canonical');
  }
  return { ...head, items, signedPart, signature };
}

/** @param {Uint8Array} data @param {Uint8Array} granterIdentityKey */
async function parseAndVerify(data, granterIdentityKey) {
  const grant = parseGrant(data);
  await verify(granterIdentityKey, grant.signature, LABEL.GRANT_SIGNATURE, grant.signedPart);
  return grant;
}

/**
 * Re-wrap content keys of earlier entries to a newcomer and sign the grant. Randomness: one HPKE
 * ephemeral secret (32) per item, in `entryId` order.
 * @param {AccountKeys} granter
 * @param {object} grant
 * @param {Uint8Array} grant.bookletId
 * @param {Uint8Array} grant.granteeId
 * @param {Uint8Array} grant.granteeEk from the grantee's verified key statement
 * @param {number} grant.createdAt ms
 * @param {{entryId: Uint8Array, entryHash: Uint8Array, contentKey: Uint8Array}[]} grant.keys in any order
 * @param {Rng} [grant.rng]
 * @returns {Promise<Uint8Array>}
 */
export async function sealGrant(granter, { bookletId, granteeId, granteeEk, createdAt, keys, rng = randomBytes }) {
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > MAX_ITEMS) throw new ProtocolError('bad-item-count');
  const sorted = keys
    .map((k) => ({ entryId: bytes(k.entryId, 16), entryHash: bytes(k.entryHash, 32), contentKey: bytes(k.contentKey, 32) }))
    .sort((a, b) => compare(a.entryId, b.entryId));
  for (let i = 1; i < sorted.length; i++) {
    if (equal(sorted[i - 1].entryId, sorted[i].entryId)) throw new ProtocolError('items-not-canonical', 'an entry appears twice');
  }
  const ephemerals = sorted.map(() => draw(rng, 32));
  const writer = new Writer(TYPE.GRANT).fixed(bookletId, 16).fixed(granter.accountId, 16).fixed(granteeId, 16)
    .fixed(granteeEk, 32).u64(createdAt).u32(sorted.length);
  try {
    const sealed = await Promise.all(sorted.map((k, i) => sealBase(
      granteeEk, itemInfo(bookletId, k.entryId, k.entryHash, granteeId, granteeEk), EMPTY, k.contentKey, () => ephemerals[i],
    )));
    sorted.forEach((k, i) => writer.raw(k.entryId).raw(k.entryHash).raw(sealed[i].enc).raw(sealed[i].ciphertext));
    const unsigned = writer.finish();
    return concat(unsigned, await sign(granter.identity.privateKey, LABEL.GRANT_SIGNATURE, unsigned));
  } finally {
    ephemerals.forEach((e) => e.fill(0));
  }
}

/**
 * The server's check (§5), public keys only. `entries` is every entry of the booklet with its hash.
 * @param {Uint8Array} data
 * @param {object} expect
 * @param {Uint8Array} expect.granterIdentityKey
 * @param {Uint8Array} expect.bookletId
 * @param {Uint8Array} expect.granterId
 * @param {Uint8Array} expect.granteeId
 * @param {Uint8Array} expect.granteeEk the grantee's active EK
 * @param {{entryId: Uint8Array, entryHash: Uint8Array}[]} expect.entries
 * @returns {Promise<Grant>}
 */
export async function verifyGrant(data, { granterIdentityKey, bookletId, granterId, granteeId, granteeEk, entries }) {
  const grant = await parseAndVerify(data, granterIdentityKey);
  if (!equal(grant.bookletId, bytes(bookletId, 16))) throw new ProtocolError('wrong-booklet');
  if (!equal(grant.granterId, bytes(granterId, 16))) throw new ProtocolError('wrong-author');
  if (!equal(grant.granteeId, bytes(granteeId, 16))) throw new ProtocolError('wrong-grantee');
  if (!equal(grant.granteeEk, bytes(granteeEk, 32, 'invalid-key'))) throw new ProtocolError('grantee-key-mismatch');
  const known = new Map(entries.map((e) => [toHex(bytes(e.entryId, 16)), bytes(e.entryHash, 32)]));
  for (const item of grant.items) {
    const hash = known.get(toHex(item.entryId));
    if (!hash) throw new ProtocolError('unknown-entry');
    if (!equal(hash, item.entryHash)) throw new ProtocolError('entry-hash-mismatch');
  }
  return grant;
}

/**
 * The grantee's open: structure, the signature under the granter's **pinned** IK, that the grant
 * is addressed to me, then each item's content key. Open the entries with `openEntryWithKey`.
 * @param {Uint8Array} data
 * @param {{granterIdentityKey: Uint8Array, me: AccountKeys}} args
 * @returns {Promise<{grant: Grant, keys: {entryId: Uint8Array, entryHash: Uint8Array, contentKey: Uint8Array}[]}>}
 */
export async function openGrant(data, { granterIdentityKey, me }) {
  const grant = await parseAndVerify(data, granterIdentityKey);
  if (!equal(grant.granteeId, me.accountId)) throw new ProtocolError('wrong-grantee');
  if (!equal(grant.granteeEk, me.encryptionPublic)) throw new ProtocolError('grantee-key-mismatch');
  const keys = await Promise.all(grant.items.map(async (item) => {
    const info = itemInfo(grant.bookletId, item.entryId, item.entryHash, grant.granteeId, grant.granteeEk);
    const contentKey = await openBase(item.enc, me.encryption, info, EMPTY, item.wrappedKey);
    return { entryId: item.entryId, entryHash: item.entryHash, contentKey };
  }));
  return { grant, keys };
}
