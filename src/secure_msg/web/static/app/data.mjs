/**
 * Booklets on the member's side, as the Python reference client does it (client/client.py):
 * members' key statements verified and identity keys, names and roles pinned on first sight (a
 * changed key is reported, never silently accepted; a changed name or role is shown, and the
 * pinned role is the one that counts); entries opened with the author's pinned key, with my own
 * wrap or a key from a history grant; posts sealed to every current member, after the writer
 * confirmed anyone unverified they would reach for the first time, and retried when someone else
 * posted first.
 */
import {
  CONSENT, KIND, KIND_NAMES, ProtocolError, encodePayload, entryHash, fromBase64url, fromHex, openEntry, openEntryWithKey,
  openGrant, parseEntry, randomBytes, sealEntry, sealGrant, toBase64url, toHex, verifyKeyStatement,
} from '../crypto/index.mjs';
import { ApiError, api } from './api.mjs';
import { requireConsent } from './consent.mjs';
import { checkHistory } from './history.mjs';
import { NotConfirmed, keyChanged, newRecipients, observe } from './pins.mjs';
import { RosterRefused, rosterCheck } from './roster.mjs';
import { addSealedTo, getCheckpoint, getPin, getSealedTo, putPin, setCheckpoint, state } from './session.mjs';

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
 * @property {string | null} pinnedName @property {string} pinnedRole the name and role in this booklet first seen: the role that counts
 * @property {boolean} relabelled the server lists another name or role than first seen
 */

/** Members with verified statements; a changed identity key is flagged, not trusted. @returns {Promise<Member[]>} */
export async function members(bookletId, { all = false } = {}) {
  const data = await api('GET', `/api/booklets/${bookletId}/members${all ? '?all=1' : ''}`);
  return Promise.all(data.members.map(async (raw) => {
    const st = await verifyKeyStatement(fromBase64url(raw.key_statement), { accountId: fromHex(raw.account_id) });
    const name = raw.name ?? null;
    // Trust on first use, until verified; a known pin only gains a name or a role for a new booklet.
    const seen = observe(getPin(raw.account_id), { ik: toHex(st.identityKey), name, role: raw.role, bookletId });
    if (seen.changed) putPin(raw.account_id, seen.pin);
    const { pin } = seen;
    const pinnedName = pin.name ?? null;
    const pinnedRole = /** @type {Record<string, string>} */ (pin.roles)[bookletId];
    return {
      id: raw.account_id, role: raw.role, name, removed: Boolean(raw.removed),
      verified: pin.verified, changed: keyChanged(pin, toHex(st.identityKey)), identityKey: st.identityKey,
      pinnedKey: fromHex(pin.ik), encryptionKey: st.encryptionKey, joinedSeq: raw.joined_seq ?? 0,
      pinnedName, pinnedRole, relabelled: name !== pinnedName || raw.role !== pinnedRole,
    };
  }));
}

/**
 * The display name of a member; one the server now lists under another name or role says so, as
 * "Anna (therapist) — first seen as Liisa (caregiver)".
 * @param {Member | undefined} m @param {(k: string, slots?: Record<string, any>) => string} t
 */
export function nameOf(m, t) {
  if (!m) return '?';
  const self = m.id === state.account?.id;
  if (m.relabelled) {
    const label = (/** @type {string | null} */ name, /** @type {string} */ role) => (
      name ? t('name_role', { name, role: t(`role_${role}`) }) : t(`role_${role}`));
    const now = label(m.name ?? (self ? state.account?.login ?? null : null), m.role);
    return t('first_seen_as', { now: self ? `${now} (${t('you')})` : now, first: label(m.pinnedName, m.pinnedRole) });
  }
  if (self) return `${m.name ?? state.account?.login} (${t('you')})`;
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
    // The role first seen counts: a server cannot promote a parent by relabelling them.
    if (THERAPIST_KINDS.has(opened.header.kind) && author.pinnedRole !== 'therapist') {
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
  const entries = await Promise.all(raws.map((raw) => openListed(opener, raw)));
  // An entry that fails its own checks must not become the reference (§4.6).
  if (checked.checkpoint && entries.every((e) => !e.error)) setCheckpoint(opener.bookletId, checked.checkpoint);
  return { entries, lastSeq, problems: checked.problems };
}

/** One listed entry opened, or marked as failed with its protocol code. @param {Opener} opener @returns {Promise<Entry>} */
async function openListed(opener, raw) {
  try {
    const opened = await opener.open(raw.author_id, fromBase64url(raw.envelope));
    return { ...signedFields(raw, opened.header), payload: opened.payload, contentKey: opened.contentKey, entryHash: opened.entryHash };
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    // Unopened, so only the server's word: shown as an error, never acted on.
    const claimed = { seq: raw.seq, id: raw.entry_id, authorId: raw.author_id, kind: KIND_NAMES[raw.kind] ?? 'unknown', createdAt: raw.created_at };
    return { ...claimed, payload: null, error: e.code };
  }
}

/** Above any sequence: `before` for the newest page (the API takes up to 18 digits, §10.4). */
const NEWEST = '999999999999999999';

/**
 * The newest `limit` entries, opened, from one page of the API (`?before=`), to show a booklet at
 * once. Not the history check, and no checkpoint: that needs the read of readEntries(), which the
 * page runs next; each entry is signed on its own, so showing it first is safe.
 * @param {Opener} opener @param {number} limit at most 200
 * @returns {Promise<{entries: Entry[], lastSeq: number}>}
 */
export async function readNewest(opener, limit) {
  const page = await api('GET', `/api/booklets/${opener.bookletId}/entries?before=${NEWEST}&limit=${limit}`);
  const entries = await Promise.all(page.entries.map((raw) => openListed(opener, raw)));
  return { entries: entries.sort((a, b) => a.seq - b.seq), lastSeq: page.last_seq };
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

/**
 * Asked before anything is sealed to `newcomers`: members unverified in person whom my entries
 * here never reached. Resolves true to go ahead.
 * @typedef {(newcomers: Member[]) => Promise<boolean>} Confirm
 */

/**
 * Seal to the current members and post; re-seal when the booklet moved on meanwhile. Every
 * attempt counts (an envelope answered with 409 has left this device): a newcomer in any attempt
 * is confirmed first, and all attempts' recipients are recorded once the post is stored.
 * @param {string} bookletId @param {string} kind @param {Record<string, any>} fields
 * @param {{confirm?: Confirm, blobIds?: string[], fulfilsRequest?: string}} [opts] without `confirm`, any newcomer stops the post (NotConfirmed); `blobIds` the uploads the payload names; `fulfilsRequest` the open document request a document entry answers
 */
export async function post(bookletId, kind, fields, { confirm, blobIds, fulfilsRequest } = {}) {
  const plaintext = encodePayload(KIND[kind], fields);
  /** @type {Set<string>} */ const sentTo = new Set();
  /** @type {Set<string>} */ const confirmed = new Set();
  /** @type {Member[]} */ const confirmedMembers = [];
  for (let attempt = 0; attempt < MAX_POST_RETRIES;) {
    const [head, current] = await Promise.all([api('GET', `/api/booklets/${bookletId}/head`), members(bookletId)]);
    const changed = current.find((m) => m.changed);
    if (changed) throw new ProtocolError('identity-key-changed', changed.id);
    // Both apply before sealing; the guardians' consent first, as the roster cannot stand in for it.
    await requireConsent(bookletId, current); // a caregiver only with every guardian's consent (§5.1)
    // The therapist's signed roster (§6.6): vouched-for members are never asked about; members
    // it leaves out are refused, except that the therapist herself is asked about them.
    const roster = await rosterCheck(bookletId, current, confirmed);
    if (roster.problem) throw new RosterRefused(roster.problem, []);
    if (roster.refused.size) throw new RosterRefused('not-in-roster', current.filter((m) => roster.refused.has(m.id)));
    const unvouched = current.filter((m) => !roster.vouched.has(m.id) || roster.pending.has(m.id));
    const newcomers = newRecipients(unvouched, [...getSealedTo(bookletId), ...confirmed], state.account?.id);
    if (newcomers.length) {
      if (!confirm || !(await confirm(newcomers))) throw new NotConfirmed(newcomers);
      newcomers.forEach((m) => { confirmed.add(m.id); confirmedMembers.push(m); });
      continue; // the answer may have taken a while: seal against a fresh head and member list
    }
    attempt += 1;
    current.forEach((m) => sentTo.add(m.id));
    const envelope = await sealEntry(state.keys, {
      bookletId: fromHex(bookletId), entryId: randomBytes(16), kind: KIND[kind], sequence: head.last_seq + 1,
      prevHash: fromBase64url(head.last_hash), createdAt: Date.now(), plaintext,
      recipients: current.map((m) => ({ accountId: fromHex(m.id), encryptionKey: m.encryptionKey })),
    });
    try {
      // blob_ids: the uploads the payload's attachments name, which the server then keeps (§10.6).
      /** @type {Record<string, any>} */ const body = { envelope: toBase64url(envelope) };
      if (blobIds?.length) body.blob_ids = blobIds;
      if (fulfilsRequest) body.fulfils_request = fulfilsRequest; // the request is done with this entry
      const result = await api('POST', `/api/booklets/${bookletId}/entries`, body);
      addSealedTo(bookletId, sentTo);
      if (state.account?.role === 'therapist') await shareWithConfirmed(bookletId, confirmedMembers);
      return result;
    } catch (e) {
      if (!(e instanceof ApiError) || !['sequence-conflict', 'membership-changed'].includes(e.type)) throw e;
    }
  }
  throw new ApiError(409, 'sequence-conflict', 'The booklet kept moving; try again');
}

/**
 * The therapist has just confirmed members who joined by a link without trust (a caregiver's,
 * or one the server sent): they get what an invitation with trust gives at once, the booklet's
 * earlier entries as far as the guardians' consent allows (the title only, for new entries
 * only), with no further step of hers. The post is stored already: a failed share leaves the
 * members panel's share button to try again.
 * @param {string} bookletId @param {Member[]} newcomers
 */
async function shareWithConfirmed(bookletId, newcomers) {
  const later = newcomers.filter((m) => m.joinedSeq > 0);
  if (!later.length) return;
  try {
    const { entries } = await readEntries(new Opener(bookletId, await members(bookletId, { all: true })));
    for (const m of later) await grantHistory(bookletId, m, entries, { confirm: async () => true });
  } catch (e) {
    if (!(e instanceof ApiError) && !(e instanceof ProtocolError)) throw e;
  }
}

/**
 * Re-wrap the entries I can read to a member who joined later; one unverified in person is
 * confirmed first.
 * @param {string} bookletId @param {Member} member @param {Entry[]} entries @param {{confirm?: Confirm}} [opts]
 * @returns {Promise<number>}
 */
export async function grantHistory(bookletId, member, entries, { confirm } = {}) {
  let keys = entries.filter((e) => e.contentKey && e.entryHash)
    .map((e) => ({ entryId: fromHex(e.id), entryHash: e.entryHash, contentKey: e.contentKey }));
  const titles = new Set(entries.filter((e) => e.kind === 'title').map((e) => e.id));
  if (!keys.length) return 0;
  if (member.changed) throw new ProtocolError('identity-key-changed', member.id);
  // Only this member's consent matters here (a grant reaches no one else).
  const current = await members(bookletId);
  const otherCaregivers = current.filter((m) => m.id !== member.id && (m.role === 'caregiver' || m.pinnedRole === 'caregiver'));
  const consented = (await requireConsent(bookletId, current.filter((m) => !otherCaregivers.includes(m)))).get(member.id);
  // New entries only (§5.1): the title is the one earlier entry shared, or they could not tell whose booklet it is.
  if (consented && consented.scope !== CONSENT.SCOPE_HISTORY) keys = keys.filter((k) => titles.has(toHex(k.entryId)));
  if (!keys.length) return 0;
  if (!member.verified && member.id !== state.account?.id && !(confirm && await confirm([member]))) {
    throw new NotConfirmed([member]);
  }
  const grant = await sealGrant(state.keys, {
    bookletId: fromHex(bookletId), granteeId: fromHex(member.id), granteeEk: member.encryptionKey, createdAt: Date.now(), keys,
  });
  const result = await api('POST', `/api/booklets/${bookletId}/grants`, { grant: toBase64url(grant) });
  addSealedTo(bookletId, [member.id]); // they hold my keys now: confirmed once is enough
  return result.entries;
}

/** The newest title I can read from a booklet-list row. @param {Opener} [known] the booklet's, when at hand */
export async function bookletTitle(row, known) {
  if (!row.title_envelope) return null;
  try {
    const opener = known ?? new Opener(row.id, await members(row.id, { all: true }));
    const env = fromBase64url(row.title_envelope);
    const opened = await opener.open(toHex(env.subarray(36, 52)), env);
    // The server picks which envelope is "the title": only a signed title (by the therapist) counts.
    return opened.header.kind === KIND.title ? String(opened.payload.title) : null;
  } catch (e) {
    if (e instanceof ProtocolError) return null;
    throw e;
  }
}
