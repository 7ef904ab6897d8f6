/**
 * Booklets on the member's side, as the Python reference client does it (client/client.py):
 * members' key statements verified and identity keys pinned on first sight (a changed key is
 * reported, never silently accepted); entries opened with the author's pinned key, with my own
 * wrap or a key from a history grant; posts sealed to every current member and retried when
 * someone else posted first.
 */
import {
  KIND, KIND_NAMES, ProtocolError, encodePayload, entryHash, fromBase64url, fromHex, openEntry, openEntryWithKey,
  openGrant, parseEntry, randomBytes, sealEntry, sealGrant, toBase64url, toHex, verifyKeyStatement,
} from '../crypto/index.mjs';
import { ApiError, api } from './api.mjs';
import { checkHistory } from './history.mjs';
import { getCheckpoint, getPin, setCheckpoint, setPin, state } from './session.mjs';

const MAX_POST_RETRIES = 5;
const PAGE = 200;
/** Title, homework and notices speak for the booklet: only its therapist writes them (the server checks too). */
const THERAPIST_KINDS = new Set([KIND.title, KIND.homework, KIND.system]);

/**
 * @typedef {object} Member
 * @property {string} id @property {string} role @property {string | null} name
 * @property {boolean} removed @property {boolean} verified @property {boolean} changed identity key differs from the pin
 * @property {Uint8Array} identityKey the key in the current statement
 * @property {Uint8Array} pinnedKey @property {Uint8Array} encryptionKey @property {number} joinedSeq
 */

/** Members with verified statements; a changed identity key is flagged, not trusted. @returns {Promise<Member[]>} */
export async function members(bookletId, { all = false } = {}) {
  const data = await api('GET', `/api/booklets/${bookletId}/members${all ? '?all=1' : ''}`);
  return Promise.all(data.members.map(async (raw) => {
    const st = await verifyKeyStatement(fromBase64url(raw.key_statement), { accountId: fromHex(raw.account_id) });
    let pin = getPin(raw.account_id);
    if (!pin) {
      setPin(raw.account_id, toHex(st.identityKey), false); // trust on first use, until verified
      pin = getPin(raw.account_id);
    }
    return {
      id: raw.account_id, role: raw.role, name: raw.name, removed: Boolean(raw.removed),
      verified: pin.verified, changed: pin.ik !== toHex(st.identityKey), identityKey: st.identityKey,
      pinnedKey: fromHex(pin.ik), encryptionKey: st.encryptionKey, joinedSeq: raw.joined_seq ?? 0,
    };
  }));
}

/** The display name of a member. @param {Member | undefined} m @param {(k: string) => string} t */
export function nameOf(m, t) {
  if (!m) return '?';
  if (m.id === state.account?.id) return `${m.name ?? state.account.login} (${t('you')})`;
  return m.name ?? t(`role_${m.role}`);
}

/** Opens a booklet's entries with my wrap, else with a granted key (fetched once, when needed). */
export class Opener {
  /** @param {string} bookletId @param {Member[]} allMembers */
  constructor(bookletId, allMembers) {
    this.bookletId = bookletId;
    this.booklet = fromHex(bookletId);
    this.authors = new Map(allMembers.map((m) => [m.id, m]));
    /** @type {Promise<Map<string, {entryHash: Uint8Array, contentKey: Uint8Array}>> | null} */
    this.granted = null;
  }

  /**
   * Open an entry and check that its signed kind is one its author may write.
   * @param {string} authorId @param {Uint8Array} envelope
   */
  async open(authorId, envelope) {
    const author = this.authors.get(authorId);
    if (!author) throw new ProtocolError('wrong-author', 'not a member of this booklet');
    const opened = await this.decrypt(author, envelope);
    if (THERAPIST_KINDS.has(opened.header.kind) && author.role !== 'therapist') {
      throw new ProtocolError('wrong-author', 'only the therapist writes this kind');
    }
    return opened;
  }

  /** With my wrap, else with a granted key. @param {Member} author @param {Uint8Array} envelope */
  async decrypt(author, envelope) {
    const place = { authorIdentityKey: author.pinnedKey, authorId: fromHex(author.id), bookletId: this.booklet };
    try {
      return await openEntry(envelope, { ...place, me: state.keys });
    } catch (e) {
      if (!(e instanceof ProtocolError) || e.code !== 'not-a-recipient') throw e;
    }
    this.granted ??= this.loadGrants();
    const entryId = envelope.subarray(20, 36);
    const item = (await this.granted).get(toHex(entryId));
    if (!item) throw new ProtocolError('not-a-recipient');
    return openEntryWithKey(envelope, { ...place, entryId, entryHash: item.entryHash, contentKey: item.contentKey });
  }

  async loadGrants() {
    const out = new Map();
    const data = await api('GET', `/api/booklets/${this.bookletId}/grants`);
    for (const g of data.grants) {
      const granter = this.authors.get(g.granter_id);
      if (!granter) continue;
      const { keys } = await openGrant(fromBase64url(g.grant), { granterIdentityKey: granter.pinnedKey, me: state.keys });
      for (const k of keys) out.set(toHex(k.entryId), k);
    }
    return out;
  }
}

/**
 * @typedef {object} Entry
 * @property {number} seq @property {string} id @property {string} authorId @property {string} kind
 * @property {string} createdAt @property {Record<string, any> | null} payload null when it could not be opened
 * @property {string} [error] the protocol code when it could not be opened
 * @property {Uint8Array} [contentKey] @property {Uint8Array} [entryHash]
 */

/**
 * Fetch and open every entry after `since`, and check the listing as one hash chain against this
 * device's checkpoint (docs/protocol.md §4.6). Entries that open are returned whatever the check
 * finds: each is signed on its own.
 * @param {Opener} opener
 * @returns {Promise<{entries: Entry[], lastSeq: number, problems: import('./history.mjs').Problem[]}>}
 */
export async function readEntries(opener, since = 0) {
  const raws = [];
  let lastSeq = 0; // the server's number as reported: a booklet that went back is a finding
  for (let after = since; ;) {
    const page = await api('GET', `/api/booklets/${opener.bookletId}/entries?since=${after}&limit=${PAGE}`);
    raws.push(...page.entries);
    lastSeq = Math.max(lastSeq, page.last_seq);
    if (!page.entries.length) break;
    after = page.entries[page.entries.length - 1].seq;
    if (after >= page.last_seq) break;
  }
  const checked = await checkListing(opener, since, lastSeq, raws);
  const entries = await Promise.all(raws.map(async (raw) => {
    try {
      const opened = await opener.open(raw.author_id, fromBase64url(raw.envelope));
      return { ...signedFields(raw, opened.header), payload: opened.payload, contentKey: opened.contentKey, entryHash: opened.entryHash };
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      // Unopened, so only the server's word: shown as an error, never acted on.
      const claimed = { seq: raw.seq, id: raw.entry_id, authorId: raw.author_id, kind: KIND_NAMES[raw.kind] ?? 'unknown', createdAt: raw.created_at };
      return { ...claimed, payload: null, error: e.code };
    }
  }));
  // An entry that fails its own checks must not become the reference (§4.6).
  if (checked.checkpoint && entries.every((e) => !e.error)) setCheckpoint(opener.bookletId, checked.checkpoint);
  return { entries, lastSeq, problems: checked.problems };
}

/**
 * The history check of one read: its problems, and the checkpoint to store once every entry opened
 * (null when there is nothing new to store).
 * @param {Opener} opener @param {number} since @param {number} lastSeq @param {any[]} raws the listing
 */
async function checkListing(opener, since, lastSeq, raws) {
  const items = await Promise.all(raws.map(listedItem));
  // Without my own record, 0: the strictest reading (every entry counts as sealed to me).
  const joinedSeq = opener.authors.get(state.account?.id ?? '')?.joinedSeq ?? 0;
  const before = getCheckpoint(opener.bookletId);
  const { problems, checkpoint } = checkHistory({ since, lastSeq, joinedSeq, checkpoint: before, items });
  const same = checkpoint && before && checkpoint.seq === before.seq && checkpoint.entryHash === before.entryHash
    && checkpoint.joinedSeq === before.joinedSeq;
  return { problems, checkpoint: same ? null : checkpoint };
}

/**
 * A listed entry as the history check sees it: sequence and prev_hash from its header, the hash
 * of the bytes served. One that does not parse keeps the listing's sequence and no prev_hash.
 * @returns {Promise<import('./history.mjs').Listed>}
 */
async function listedItem(raw) {
  let envelope;
  try {
    envelope = fromBase64url(raw.envelope);
  } catch {
    envelope = new TextEncoder().encode(String(raw.envelope)); // not even base64: hash what was served
  }
  const hash = toHex(await entryHash(envelope));
  try {
    const { header } = parseEntry(envelope);
    return { seq: header.sequence, prevHash: toHex(header.prevHash), entryHash: hash };
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return { seq: Number(raw.seq), prevHash: null, entryHash: hash };
  }
}

/**
 * An opened entry's place and kind, from its signed header: the server's listing must agree, or a
 * server could relabel a note as a notice, swap two tasks' ids under a "done" log, or redate it.
 * @param {{seq: number, entry_id: string, author_id: string, kind: number, created_at: string}} raw the server's listing
 * @param {import('../crypto/envelope.mjs').EntryHeader} header
 * @returns {Omit<Entry, 'payload'>}
 */
function signedFields(raw, header) {
  const id = toHex(header.entryId);
  if (raw.kind !== header.kind || raw.entry_id !== id || raw.seq !== header.sequence || Date.parse(raw.created_at) !== header.createdAt) {
    throw new ProtocolError('malformed', "the server's listing disagrees with the signed header");
  }
  return { seq: header.sequence, id, authorId: toHex(header.authorId), kind: KIND_NAMES[header.kind], createdAt: new Date(header.createdAt).toISOString() };
}

/** Seal to the current members and post; re-seal when the booklet moved on meanwhile. */
export async function post(bookletId, kind, fields) {
  const plaintext = encodePayload(KIND[kind], fields);
  for (let i = 0; i < MAX_POST_RETRIES; i++) {
    const [head, current] = await Promise.all([api('GET', `/api/booklets/${bookletId}/head`), members(bookletId)]);
    const changed = current.find((m) => m.changed);
    if (changed) throw new ProtocolError('identity-key-changed', changed.id);
    const envelope = await sealEntry(state.keys, {
      bookletId: fromHex(bookletId), entryId: randomBytes(16), kind: KIND[kind], sequence: head.last_seq + 1,
      prevHash: fromBase64url(head.last_hash), createdAt: Date.now(), plaintext,
      recipients: current.map((m) => ({ accountId: fromHex(m.id), encryptionKey: m.encryptionKey })),
    });
    try {
      return await api('POST', `/api/booklets/${bookletId}/entries`, { envelope: toBase64url(envelope) });
    } catch (e) {
      if (!(e instanceof ApiError) || !['sequence-conflict', 'membership-changed'].includes(e.type)) throw e;
    }
  }
  throw new ApiError(409, 'sequence-conflict', 'The booklet kept moving; try again');
}

/** Re-wrap the entries I can read to a member who joined later. @param {Entry[]} entries @returns {Promise<number>} */
export async function grantHistory(bookletId, member, entries) {
  const keys = entries.filter((e) => e.contentKey && e.entryHash)
    .map((e) => ({ entryId: fromHex(e.id), entryHash: e.entryHash, contentKey: e.contentKey }));
  if (!keys.length) return 0;
  if (member.changed) throw new ProtocolError('identity-key-changed', member.id);
  const grant = await sealGrant(state.keys, {
    bookletId: fromHex(bookletId), granteeId: fromHex(member.id), granteeEk: member.encryptionKey, createdAt: Date.now(), keys,
  });
  const result = await api('POST', `/api/booklets/${bookletId}/grants`, { grant: toBase64url(grant) });
  return result.entries;
}

/** The newest title I can read from a booklet-list row. */
export async function bookletTitle(row) {
  if (!row.title_envelope) return null;
  try {
    const opener = new Opener(row.id, await members(row.id, { all: true }));
    const env = fromBase64url(row.title_envelope);
    const opened = await opener.open(toHex(env.subarray(36, 52)), env);
    // The server picks which envelope is "the title": only a signed title (by the therapist) counts.
    return opened.header.kind === KIND.title ? String(opened.payload.title) : null;
  } catch (e) {
    if (e instanceof ProtocolError) return null;
    throw e;
  }
}
