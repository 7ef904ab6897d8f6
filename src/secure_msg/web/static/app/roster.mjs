/**
 * The therapist's signed roster (docs/protocol.md §6.6) and invitation links that carry trust
 * (§6.7) in the web inbox, as client/roster_trust.py and client/client.py do it: who the roster
 * vouches for (sealed to without asking), who is refused (never sealed to), the therapist's
 * browser signing the next roster by itself, the invitation record and history sealed to the
 * link's secret, and the joiner's side right after enrolling.
 */
import {
  ProtocolError, checkInvitationSecret, checkMember, compactFingerprint, encodeFragment, fromBase64url, fromHex,
  invitationKeys, openGrant, parseFragment, randomBytes, sealGrant, signInvitation, signJoinProof, signRoster, toBase64url,
  toHex, verifyInvitation, verifyJoinProof, verifyKeyStatement, verifyRoster,
} from '../crypto/index.mjs';
import { ApiError, api } from './api.mjs';
import { takeLinkFragment } from './link-trust.mjs';
import { getPin, getSealedTo, putPin, setPin, state } from './session.mjs';

/** @typedef {import('./data.mjs').Member} Member */
/**
 * @typedef {object} RosterView
 * @property {Set<string>} vouched sealed to without asking (me included)
 * @property {Map<string, string>} refused account id → the failed check: never sealed to
 * @property {Set<string>} pending the therapist's own view: members she may confirm into the roster
 * @property {string | null} problem the roster's own failed check: nothing is sealed in the booklet
 */

/** Booklet id → the highest roster version accepted, for this tab's session (§6.6). */
const highestSeen = new Map();

/** Refused to seal: the roster failed, or members it does not vouch for. */
export class RosterRefused extends ProtocolError {
  /** @param {string} code @param {Member[]} members */
  constructor(code, members) {
    super(code, members.map((m) => m.name ?? m.id).join(', '));
    this.members = members;
  }
}

/** The current member first seen as therapist; not me when the server also lists me so. @param {Member[]} current */
function therapistOf(current) {
  let found = current.filter((m) => !m.removed && m.pinnedRole === 'therapist');
  if (found.length > 1) found = found.filter((m) => m.id !== state.account?.id);
  return found.length === 1 ? found[0] : null;
}

/**
 * Who the booklet's roster vouches for; the therapist's browser first signs the next roster when
 * the members changed (with `confirmed`: members she confirmed belong).
 * @param {string} bookletId @param {Member[]} current @param {Set<string>} [confirmed]
 * @returns {Promise<RosterView>}
 */
export async function rosterCheck(bookletId, current, confirmed = new Set()) {
  let answer = await api('GET', `/api/booklets/${bookletId}/roster`);
  let view = await evaluate(bookletId, current, answer);
  const therapist = therapistOf(current);
  if (therapist && therapist.id === state.account?.id && !view.problem) {
    for (let i = 0; i < 3 && await signNext(bookletId, current, view, answer, confirmed); i++) {
      answer = await api('GET', `/api/booklets/${bookletId}/roster`);
      view = await evaluate(bookletId, current, answer);
    }
  }
  return view;
}

/** @param {string} bookletId @param {Member[]} members @param {any} answer @returns {Promise<RosterView & {roster: any, joins: Map<string, any>}>} */
async function evaluate(bookletId, members, answer) {
  const current = members.filter((m) => !m.removed);
  const me = state.account?.id ?? '';
  const therapist = therapistOf(current);
  const base = { vouched: new Set([me]), refused: new Map(), pending: new Set(), problem: null, roster: null, joins: new Map(), viaInvitation: new Set() };
  if (!therapist) return { ...base, problem: answer.roster ? 'wrong-author' : null };
  const booklet = fromHex(bookletId);
  let roster = null;
  if (answer.roster) {
    try {
      roster = await verifyRoster(fromBase64url(answer.roster), {
        therapistIdentityKey: therapist.pinnedKey, bookletId: booklet, therapistId: fromHex(therapist.id),
        highestSeen: highestSeen.get(bookletId) ?? 0,
      });
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return { ...base, problem: e.code };
    }
    highestSeen.set(bookletId, roster.version);
  }
  const joins = new Map((answer.joins ?? []).map((j) => [j.account_id, j]));
  const byInvitation = new Map();
  for (const m of current) {
    if (m.id === me) continue;
    let code = 'not-in-roster';
    if (roster) {
      try {
        checkMember(roster, { accountId: fromHex(m.id), identityKey: m.identityKey, role: m.role, nowMs: Date.now() });
        base.vouched.add(m.id);
        continue;
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        code = e.code;
      }
    }
    const inv = await joinedBy(booklet, therapist, m, joins.get(m.id), roster?.createdAt ?? null);
    if (inv) byInvitation.set(m.id, toHex(inv.invitationIk));
    else if (roster) base.refused.set(m.id, code);
  }
  const uses = new Map();
  for (const ik of byInvitation.values()) uses.set(ik, (uses.get(ik) ?? 0) + 1);
  for (const [id, ik] of byInvitation) {
    if (uses.get(ik) > 1) base.refused.set(id, 'invitation-mismatch');
    else { base.vouched.add(id); base.viaInvitation.add(id); }
  }
  return { ...base, roster, joins };
}

/** The member's invitation if her join proof vouches for her (§6.7), else null. */
async function joinedBy(booklet, therapist, m, join, rosterCreated) {
  if (!join) return null;
  try {
    const inv = await verifyInvitation(fromBase64url(join.invitation), {
      therapistIdentityKey: therapist.pinnedKey, bookletId: booklet, therapistId: fromHex(therapist.id),
    });
    await verifyJoinProof(fromBase64url(join.proof), inv, { memberId: fromHex(m.id), memberIk: m.identityKey });
    if (rosterCreated !== null && inv.createdAt <= rosterCreated) return null;
    return inv.role === m.role ? inv : null;
  } catch (e) {
    if (e instanceof ProtocolError) return null;
    throw e;
  }
}

/**
 * The therapist's side of §6.6 "Writing": sign and store the roster as it should be now. Members
 * refused as not in the roster and not confirmed stay out and are `pending` (she is asked).
 * @returns {Promise<boolean>} whether a roster was stored (or lost a race): read again
 */
async function signNext(bookletId, members, view, answer, confirmed) {
  const current = new Map(members.filter((m) => !m.removed).map((m) => [m.id, m]));
  /** @type {Map<string, any>} */ const keep = new Map();
  for (const rm of view.roster?.members ?? []) {
    const m = current.get(toHex(rm.accountId));
    if (m && toHex(m.identityKey) === toHex(rm.identityKey) && m.role === rm.role) keep.set(m.id, rm);
  }
  const extra = new Set([...view.viaInvitation, ...confirmed, state.account?.id ?? '']);
  for (const [id, pin] of Object.entries(state.pins ?? {})) if (pin?.verified) extra.add(id);
  if (!view.roster) getSealedTo(bookletId).forEach((id) => extra.add(id));
  for (const id of extra) {
    const m = current.get(id);
    if (m && !keep.has(id)) keep.set(id, { accountId: fromHex(id), identityKey: m.identityKey, role: m.role, until: 0 });
  }
  for (const [id, code] of view.refused) if (code === 'not-in-roster' && !keep.has(id)) view.pending.add(id);
  for (const id of keep.keys()) view.refused.delete(id);
  const same = view.roster && view.roster.members.length === keep.size
    && view.roster.members.every((/** @type {any} */ rm) => keep.get(toHex(rm.accountId)) === rm);
  if (same) {
    view.pending.forEach((id) => view.refused.delete(id));
    return false;
  }
  const version = Math.max(answer.version ?? 0, highestSeen.get(bookletId) ?? 0) + 1;
  const roster = await signRoster(state.keys, { bookletId: fromHex(bookletId), version, createdAt: Date.now(), members: [...keep.values()] });
  try {
    await api('PUT', `/api/booklets/${bookletId}/roster`, { base_version: version - 1, roster: toBase64url(roster) });
  } catch (e) {
    if (e instanceof ApiError && e.type === 'booklet-closed') return false; // read-only: the stored roster stands
    if (!(e instanceof ApiError) || e.type !== 'roster-version-conflict') throw e;
  }
  return true;
}

/**
 * The therapist invites with trust: sign the invitation record, seal the history she can read to
 * the invitation key, store both; the fragment to append to the link (never sent to the server).
 * @param {string} bookletId @param {number} invitationId @param {string} role
 * @param {{id: string, contentKey?: Uint8Array, entryHash?: Uint8Array}[]} entries what she has opened
 * @param {'qr' | 'link'} via
 */
export async function inviteTrust(bookletId, invitationId, role, entries, via = 'link') {
  const secret = randomBytes(32);
  const inv = await invitationKeys(secret);
  const booklet = fromHex(bookletId);
  const record = await signInvitation(state.keys, { bookletId: booklet, invitation: inv, role, createdAt: Date.now() });
  const keys = entries.filter((e) => e.contentKey && e.entryHash)
    .map((e) => ({ entryId: fromHex(e.id), entryHash: e.entryHash, contentKey: e.contentKey }));
  const grant = keys.length ? await sealGrant(state.keys, {
    bookletId: booklet, granteeId: inv.accountId, granteeEk: inv.encryptionPublic, createdAt: Date.now(), keys,
  }) : null;
  await api('PUT', `/api/booklets/${bookletId}/invitations/${invitationId}/trust`, {
    invitation: toBase64url(record), grant: grant ? toBase64url(grant) : null,
  });
  return encodeFragment({ secret, therapistFingerprint: await compactFingerprint(state.keys.identityPublic), via });
}

/** @param {string | null} hash @returns {import('../crypto/roster.mjs').Fragment | null} */
function parsedFragment(hash) {
  try {
    return hash ? parseFragment(hash) : null;
  } catch {
    return null; // a damaged fragment: the link still enrolls, without trust
  }
}

/**
 * Right after joining with a link that carried trust: pin the therapist the link names (verified
 * when scanned from her screen), prove the secret, open the history sealed to the invitation and
 * re-wrap it to myself. Nothing happens for a plain link. @param {string} bookletId
 * @returns {Promise<number>} entries received
 */
export async function joinIfInvited(bookletId) {
  const fragment = parsedFragment(takeLinkFragment());
  if (!fragment || !bookletId) return 0;
  const raw = await api('GET', `/api/booklets/${bookletId}/members`);
  const therapists = raw.members.filter((m) => m.role === 'therapist');
  if (therapists.length !== 1) throw new ProtocolError('wrong-author', 'no single therapist');
  const st = await verifyKeyStatement(fromBase64url(therapists[0].key_statement), { accountId: fromHex(therapists[0].account_id) });
  if (await compactFingerprint(st.identityKey) !== fragment.therapistFingerprint) {
    throw new ProtocolError('identity-key-changed', 'the server lists another therapist than the link names');
  }
  const id = therapists[0].account_id;
  const pin = getPin(id);
  if (pin && pin.ik !== toHex(st.identityKey)) throw new ProtocolError('identity-key-changed');
  if (fragment.via === 'qr') setPin(id, toHex(st.identityKey), true);
  else if (!pin) putPin(id, { ik: toHex(st.identityKey), verified: false });
  const inv = await invitationKeys(fragment.secret);
  const me = state.keys;
  const proof = await signJoinProof(inv, { bookletId: fromHex(bookletId), memberId: me.accountId, memberIk: me.identityPublic });
  const joined = await api('POST', `/api/booklets/${bookletId}/join`, { proof: toBase64url(proof) });
  const record = await verifyInvitation(fromBase64url(joined.invitation), {
    therapistIdentityKey: st.identityKey, bookletId: fromHex(bookletId), therapistId: fromHex(id),
  });
  checkInvitationSecret(record, inv);
  if (!joined.grant) return 0;
  const { keys } = await openGrant(fromBase64url(joined.grant), { granterIdentityKey: st.identityKey, me: inv });
  // Later sessions and other devices have no secret: re-wrap to myself (§6.7).
  const grant = await sealGrant(me, { bookletId: fromHex(bookletId), granteeId: me.accountId, granteeEk: me.encryptionPublic, createdAt: Date.now(), keys });
  return (await api('POST', `/api/booklets/${bookletId}/grants`, { grant: toBase64url(grant) })).entries;
}
