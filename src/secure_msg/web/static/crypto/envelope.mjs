/** Entry envelopes (docs/protocol.md §4): seal, server-style verify, recipient open. */
import { Reader, Writer, bytes, compare, concat, equal, toHex } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { openBase, sealBase } from './hpke.mjs';
import { LABEL, TYPE, labelled } from './labels.mjs';
import { decodePayload, isKind } from './payload.mjs';
import { aesGcmDecrypt, aesGcmEncrypt, draw, randomBytes, sha256, sign, verify } from './primitives.mjs';

/** @typedef {import('./primitives.mjs').Rng} Rng */
/** @typedef {import('./keys.mjs').AccountKeys} AccountKeys */
/** @typedef {{accountId: Uint8Array, encryptionKey: Uint8Array}} Recipient an account and its active EK */

const TAG_LENGTH = 16;
const MAX_BODY = 16 * 1024 * 1024 + TAG_LENGTH;
const MAX_RECIPIENTS = 64;
const EMPTY = new Uint8Array(0);

/**
 * @typedef {object} EntryHeader
 * @property {Uint8Array} bookletId
 * @property {Uint8Array} entryId
 * @property {Uint8Array} authorId
 * @property {number} kind KIND.*
 * @property {number} sequence
 * @property {Uint8Array} prevHash
 * @property {number} createdAt ms
 * @property {Uint8Array} nonce
 * @property {Uint8Array} keyCommitment the hash of the content key the author signed (§4.1)
 */

/** @typedef {{recipientId: Uint8Array, recipientEk: Uint8Array, enc: Uint8Array, wrappedKey: Uint8Array}} Wrap */

/**
 * @typedef {object} ParsedEntry a structurally valid envelope whose signature is not yet checked
 * @property {number} type always TYPE.ENTRY
 * @property {EntryHeader} header
 * @property {Uint8Array} headerBytes
 * @property {Uint8Array} body
 * @property {Wrap[]} wraps
 * @property {Uint8Array} signedPart
 * @property {Uint8Array} signature
 * @property {Uint8Array} raw
 */

/** SHA-256 over the whole envelope, signature included: the hash chain's link. @param {Uint8Array} envelope */
export function entryHash(envelope) {
  return sha256(LABEL.ENTRY_HASH, bytes(envelope));
}

/** @param {Uint8Array} headerBytes the 145-byte header */
export function headerHash(headerBytes) {
  return sha256(LABEL.ENTRY_HEADER, headerBytes);
}

/** The header's `key_commitment` (§4.1): AES-GCM alone would let one body decrypt under two keys. @param {Uint8Array} contentKey */
const keyCommitment = (contentKey) => sha256(LABEL.ENTRY_KEY_COMMITMENT, contentKey);

/** @param {Uint8Array} hh @param {Uint8Array} recipientId @param {Uint8Array} recipientEk */
const wrapInfo = (hh, recipientId, recipientEk) => labelled(LABEL.ENTRY_KEY, hh, recipientId, recipientEk);

/**
 * Checks 1–4 of §4.3: prefix, layout, kind, canonical recipient order. Only type 0x11 is an entry:
 * the retired 0x10, which did not commit to its content key, is `wrong-type` like any other byte.
 * @param {Uint8Array} data
 * @returns {ParsedEntry}
 */
export function parseEntry(data) {
  const r = new Reader(data, TYPE.ENTRY);
  /** @type {EntryHeader} */
  const header = {
    bookletId: r.take(16),
    entryId: r.take(16),
    authorId: r.take(16),
    kind: r.u8(),
    sequence: r.u64(),
    prevHash: r.take(32),
    createdAt: r.u64(),
    nonce: r.take(12),
    keyCommitment: r.take(32),
  };
  const headerBytes = r.consumed();
  const bodyLength = r.u32();
  if (bodyLength < TAG_LENGTH || bodyLength > MAX_BODY) throw new ProtocolError('malformed', 'body length out of bounds');
  if (header.sequence === 0) throw new ProtocolError('malformed', 'sequences start at 1');
  const body = r.take(bodyLength);
  const count = r.u16();
  if (count < 1 || count > MAX_RECIPIENTS) throw new ProtocolError('bad-recipient-count');
  const wraps = [];
  for (let i = 0; i < count; i++) {
    wraps.push({ recipientId: r.take(16), recipientEk: r.take(32), enc: r.take(32), wrappedKey: r.take(48) });
  }
  const signedPart = r.consumed();
  const signature = r.take(64);
  r.end();
  if (!isKind(header.kind)) throw new ProtocolError('unknown-kind');
  for (let i = 1; i < wraps.length; i++) {
    if (compare(wraps[i - 1].recipientId, wraps[i].recipientId) >= 0) throw new ProtocolError('recipients-not-canonical');
  }
  return { type: r.type, header, headerBytes, body, wraps, signedPart, signature, raw: r.data };
}

/**
 * Checks 1–7 of §4.3: structure, the signature under the author's IK, and that the entry belongs
 * where it is shown, so a server can neither move it to another booklet nor attribute it to an
 * account other than the one whose key signed it.
 * @param {Uint8Array} data
 * @param {{authorIdentityKey: Uint8Array, authorId: Uint8Array, bookletId: Uint8Array}} expect
 */
async function parseAndVerify(data, { authorIdentityKey, authorId, bookletId }) {
  const entry = parseEntry(data);
  await verify(authorIdentityKey, entry.signature, LABEL.ENTRY_SIGNATURE, entry.signedPart);
  if (!equal(entry.header.authorId, bytes(authorId, 16))) throw new ProtocolError('wrong-author');
  if (!equal(entry.header.bookletId, bytes(bookletId, 16))) throw new ProtocolError('wrong-booklet');
  return entry;
}

/**
 * Seal and sign an entry (§4.2). Randomness is drawn in this order: content key (32), nonce (12),
 * then one HPKE ephemeral secret (32) per recipient in `recipientId` order.
 * @param {AccountKeys} author
 * @param {object} entry
 * @param {Uint8Array} entry.bookletId
 * @param {Uint8Array} entry.entryId
 * @param {number} entry.kind KIND.*
 * @param {number} entry.sequence
 * @param {Uint8Array} entry.prevHash 32 zero bytes for sequence 1
 * @param {number} entry.createdAt ms
 * @param {Uint8Array} entry.plaintext usually from encodePayload()
 * @param {Recipient[]} entry.recipients in any order; the author's own account should be one
 * @param {Rng} [entry.rng]
 * @returns {Promise<Uint8Array>} the envelope
 */
export async function sealEntry(author, { bookletId, entryId, kind, sequence, prevHash, createdAt, plaintext, recipients, rng = randomBytes }) {
  if (!isKind(kind)) throw new ProtocolError('unknown-kind');
  if (!Array.isArray(recipients) || recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw new ProtocolError('bad-recipient-count');
  }
  const sorted = recipients
    .map((p) => ({ id: bytes(p.accountId, 16), ek: bytes(p.encryptionKey, 32, 'invalid-key') }))
    .sort((a, b) => compare(a.id, b.id));
  for (let i = 1; i < sorted.length; i++) {
    if (equal(sorted[i - 1].id, sorted[i].id)) throw new ProtocolError('recipients-not-canonical', 'a recipient appears twice');
  }
  const pt = bytes(plaintext);
  if (pt.length + TAG_LENGTH > MAX_BODY) throw new ProtocolError('malformed', 'plaintext too large');
  const contentKey = draw(rng, 32);
  const nonce = draw(rng, 12);
  const ephemerals = sorted.map(() => draw(rng, 32));
  const writer = new Writer(TYPE.ENTRY).fixed(bookletId, 16).fixed(entryId, 16).fixed(author.accountId, 16)
    .u8(kind).u64(sequence).fixed(prevHash, 32).u64(createdAt).raw(nonce).raw(await keyCommitment(contentKey));
  const header = writer.finish();
  const hh = await headerHash(header);
  try {
    const body = await aesGcmEncrypt(contentKey, nonce, pt, header);
    const wraps = await Promise.all(sorted.map(({ id, ek }, i) => sealBase(ek, wrapInfo(hh, id, ek), EMPTY, contentKey, () => ephemerals[i])));
    writer.u32(body.length).raw(body).u16(sorted.length);
    sorted.forEach(({ id, ek }, i) => writer.raw(id).raw(ek).raw(wraps[i].enc).raw(wraps[i].ciphertext));
    const unsigned = writer.finish();
    return concat(unsigned, await sign(author.identity.privateKey, LABEL.ENTRY_SIGNATURE, unsigned));
  } finally {
    contentKey.fill(0);
    ephemerals.forEach((e) => e.fill(0));
  }
}

/**
 * The server's check (§4.3), public keys only. `recipients` is every current member with their
 * active EK; the envelope's wraps must name exactly that set.
 * @param {Uint8Array} data
 * @param {{authorIdentityKey: Uint8Array, bookletId: Uint8Array, authorId: Uint8Array, recipients: Recipient[]}} expect
 * @returns {Promise<{header: EntryHeader, entryHash: Uint8Array, bodyLength: number}>}
 */
export async function verifyEntry(data, { authorIdentityKey, bookletId, authorId, recipients }) {
  const entry = await parseAndVerify(data, { authorIdentityKey, authorId, bookletId });
  const key = (/** @type {Uint8Array} */ id, /** @type {Uint8Array} */ ek) => `${toHex(id)}:${toHex(ek)}`;
  const expected = new Set(recipients.map((p) => key(bytes(p.accountId, 16), bytes(p.encryptionKey, 32, 'invalid-key'))));
  const actual = new Set(entry.wraps.map((w) => key(w.recipientId, w.recipientEk)));
  if (expected.size !== actual.size || [...actual].some((k) => !expected.has(k))) {
    throw new ProtocolError('recipient-set-mismatch');
  }
  return { header: entry.header, entryHash: await entryHash(entry.raw), bodyLength: entry.body.length };
}

/**
 * @typedef {object} OpenedEntry
 * @property {EntryHeader} header
 * @property {Uint8Array} plaintext
 * @property {Record<string, unknown>} payload the checked JSON payload
 * @property {Uint8Array} contentKey kept for re-wrapping in a history grant
 * @property {Uint8Array} entryHash
 */

/**
 * Checks 9a–11 of §4.4: the content key is the one the author committed to, compared before
 * AES-GCM (which alone would let one body decrypt under two keys), so every recipient reads the
 * same plaintext; then decryption and payload.
 * @param {ParsedEntry} entry @param {Uint8Array} contentKey 32 bytes @returns {Promise<OpenedEntry>}
 */
async function decrypt(entry, contentKey) {
  if (!equal(await keyCommitment(contentKey), entry.header.keyCommitment)) throw new ProtocolError('key-commitment-mismatch');
  const plaintext = await aesGcmDecrypt(contentKey, entry.header.nonce, entry.body, entry.headerBytes, 'decrypt-failed');
  const payload = decodePayload(entry.header.kind, plaintext);
  return { header: entry.header, plaintext, payload, contentKey, entryHash: await entryHash(entry.raw) };
}

/**
 * A recipient's open (§4.4), checks 1–11, with the **pinned** IK of the account `authorId`, for an
 * entry shown in booklet `bookletId`.
 * @param {Uint8Array} data
 * @param {{authorIdentityKey: Uint8Array, authorId: Uint8Array, bookletId: Uint8Array, me: AccountKeys}} args
 * @returns {Promise<OpenedEntry>}
 */
export async function openEntry(data, { authorIdentityKey, me, authorId, bookletId }) {
  const entry = await parseAndVerify(data, { authorIdentityKey, authorId, bookletId });
  const wrap = entry.wraps.find((w) => equal(w.recipientId, me.accountId) && equal(w.recipientEk, me.encryptionPublic));
  if (!wrap) throw new ProtocolError('not-a-recipient');
  const info = wrapInfo(await headerHash(entry.headerBytes), wrap.recipientId, wrap.recipientEk);
  const contentKey = await openBase(wrap.enc, me.encryption, info, EMPTY, wrap.wrappedKey);
  return decrypt(entry, contentKey);
}

/**
 * Open an entry whose content key came from a history grant item (§5): the checks of openEntry up
 * to the author and booklet, then that the envelope is the item's entry, by id and by entry hash
 * (`entry-hash-mismatch`), then that the key is 32 bytes (`malformed`), then the key commitment
 * (`key-commitment-mismatch`), decryption and payload.
 * @param {Uint8Array} data
 * @param {object} args
 * @param {Uint8Array} args.authorIdentityKey the entry author's pinned IK
 * @param {Uint8Array} args.authorId
 * @param {Uint8Array} args.bookletId
 * @param {Uint8Array} args.entryId the grant item's
 * @param {Uint8Array} args.entryHash the grant item's
 * @param {Uint8Array} args.contentKey from openGrant
 * @returns {Promise<OpenedEntry>}
 */
export async function openEntryWithKey(data, { authorIdentityKey, authorId, bookletId, entryId, entryHash: expected, contentKey }) {
  const entry = await parseAndVerify(data, { authorIdentityKey, authorId, bookletId });
  if (!equal(entry.header.entryId, bytes(entryId, 16))) throw new ProtocolError('entry-hash-mismatch', 'grant item names another entry');
  if (!equal(await entryHash(entry.raw), bytes(expected, 32))) throw new ProtocolError('entry-hash-mismatch');
  return decrypt(entry, bytes(contentKey, 32));
}
