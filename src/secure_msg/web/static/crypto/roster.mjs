/**
 * The therapist's signed roster (docs/protocol.md §6.6) and invitations that carry trust (§6.7):
 * the invitation keys derived from the link's secret, the record she signs, the joiner's proof
 * and the link's fragment. The same layouts and checks as crypto/roster.py.
 */
import { AccountKeys } from './keys.mjs';
import { Reader, Writer, bytes, compare, concat, equal, fromBase64url, toBase64url, toHex } from './encoding.mjs';
import { ProtocolError } from './errors.mjs';
import { LABEL, TYPE } from './labels.mjs';
import { hkdf, importPrivate, sha256, sign, verify } from './primitives.mjs';
import { isValidEd25519Key } from './ed25519.mjs';

const MAX_MEMBERS = 1024;
const MAX_VERSION = Number.MAX_SAFE_INTEGER;
export const ROLES = Object.freeze({ 1: 'therapist', 2: 'guardian', 3: 'caregiver' });
const ROLE_IDS = Object.freeze({ therapist: 1, guardian: 2, caregiver: 3 });

/** @typedef {{accountId: Uint8Array, identityKey: Uint8Array, role: string, until: number}} RosterMember */
/**
 * @typedef {object} Roster
 * @property {Uint8Array} bookletId
 * @property {Uint8Array} therapistId
 * @property {number} version
 * @property {number} createdAt
 * @property {RosterMember[]} members
 * @property {Uint8Array} signedPart
 * @property {Uint8Array} signature
 */

/** Layout and the rules of §6.6 that need no key. @param {Uint8Array} data @returns {Roster} */
export function parseRoster(data) {
  const r = new Reader(data, TYPE.ROSTER);
  const bookletId = r.take(16);
  const therapistId = r.take(16);
  const version = r.u64();
  const createdAt = r.u64();
  if (version < 1 || version > MAX_VERSION) throw new ProtocolError('malformed', 'roster version');
  const count = r.u16();
  if (count < 1 || count > MAX_MEMBERS) throw new ProtocolError('bad-member-count');
  const members = [];
  for (let i = 0; i < count; i++) {
    const accountId = r.take(16);
    const identityKey = r.take(32);
    const role = ROLES[/** @type {1|2|3} */ (r.u8())];
    const until = r.u64();
    if (!role) throw new ProtocolError('malformed', 'roster role');
    members.push({ accountId, identityKey, role, until });
  }
  const signedPart = r.consumed();
  const signature = r.take(64);
  r.end();
  for (let i = 1; i < members.length; i++) {
    if (compare(members[i - 1].accountId, members[i].accountId) >= 0) throw new ProtocolError('members-not-canonical');
  }
  const therapists = members.filter((m) => m.role === 'therapist');
  if (therapists.length !== 1 || !equal(therapists[0].accountId, therapistId)) {
    throw new ProtocolError('malformed', 'a roster lists its signer as its one therapist');
  }
  return { bookletId, therapistId, version, createdAt, members, signedPart, signature };
}

/**
 * Sign a roster; `members` in any order, the signer among them as therapist.
 * @param {AccountKeys} therapist
 * @param {{bookletId: Uint8Array, version: number, createdAt: number, members: RosterMember[]}} args
 */
export async function signRoster(therapist, { bookletId, version, createdAt, members }) {
  const sorted = [...members].sort((a, b) => compare(a.accountId, b.accountId));
  const w = new Writer(TYPE.ROSTER).fixed(bookletId, 16).fixed(therapist.accountId, 16).u64(version).u64(createdAt)
    .u16(sorted.length);
  for (const m of sorted) {
    const role = ROLE_IDS[/** @type {'therapist'|'guardian'|'caregiver'} */ (m.role)];
    if (!role) throw new ProtocolError('malformed', 'roster role');
    w.fixed(m.accountId, 16).fixed(m.identityKey, 32).u8(role).u64(m.until || 0);
  }
  const unsigned = w.finish();
  const blob = concat(unsigned, await sign(therapist.identity.privateKey, LABEL.ROSTER_SIGNATURE, unsigned));
  parseRoster(blob); // never write what a reader refuses
  return blob;
}

/**
 * A reader's check, in the order of §6.6.
 * @param {Uint8Array} data
 * @param {{therapistIdentityKey: Uint8Array, bookletId: Uint8Array, therapistId: Uint8Array, highestSeen?: number}} ctx
 * @returns {Promise<Roster>}
 */
export async function verifyRoster(data, { therapistIdentityKey, bookletId, therapistId, highestSeen = 0 }) {
  const roster = parseRoster(data);
  await verify(therapistIdentityKey, roster.signature, LABEL.ROSTER_SIGNATURE, roster.signedPart);
  if (!equal(roster.bookletId, bytes(bookletId, 16))) throw new ProtocolError('wrong-booklet');
  if (!equal(roster.therapistId, bytes(therapistId, 16))) throw new ProtocolError('wrong-author');
  const own = roster.members.find((m) => equal(m.accountId, roster.therapistId));
  if (!own || !equal(own.identityKey, therapistIdentityKey)) throw new ProtocolError('roster-key-mismatch', "the therapist's own entry");
  if (roster.version < highestSeen) throw new ProtocolError('roster-rolled-back');
  return roster;
}

/**
 * Whether a listed member is the one the roster names.
 * @param {Roster} roster
 * @param {{accountId: Uint8Array, identityKey: Uint8Array, role: string, nowMs: number}} listed
 */
export function checkMember(roster, { accountId, identityKey, role, nowMs }) {
  const m = roster.members.find((x) => equal(x.accountId, accountId));
  if (!m) throw new ProtocolError('not-in-roster');
  if (!equal(m.identityKey, identityKey)) throw new ProtocolError('roster-key-mismatch');
  if (m.role !== role) throw new ProtocolError('roster-role-mismatch');
  if (m.until && m.until <= nowMs) throw new ProtocolError('roster-expired');
  return m;
}

// -- invitations (§6.7) ----------------------------------------------------------------------

/** @param {Uint8Array} invitationIk */
export async function invitationId(invitationIk) {
  return (await sha256(LABEL.INVITATION_ID, bytes(invitationIk, 32, 'invalid-key'))).slice(0, 16);
}

/** The invitation keypair from the link's secret, as a grantee's AccountKeys. @param {Uint8Array} secret */
export async function invitationKeys(secret) {
  const s = bytes(secret, 32);
  const identity = await importPrivate('Ed25519', await hkdf(s, LABEL.INVITATION_IDENTITY));
  const encryption = await importPrivate('X25519', await hkdf(s, LABEL.INVITATION_ENCRYPTION));
  return new AccountKeys(await invitationId(identity.publicKey), identity, encryption);
}

/**
 * @typedef {object} Invitation
 * @property {Uint8Array} bookletId
 * @property {Uint8Array} therapistId
 * @property {Uint8Array} invitationIk
 * @property {Uint8Array} invitationEk
 * @property {string} role
 * @property {number} createdAt
 * @property {Uint8Array} signedPart
 * @property {Uint8Array} signature
 */

/** @param {Uint8Array} data @returns {Invitation} */
export function parseInvitation(data) {
  const r = new Reader(data, TYPE.INVITATION);
  const head = { bookletId: r.take(16), therapistId: r.take(16), invitationIk: r.take(32), invitationEk: r.take(32) };
  const roleId = r.u8();
  const createdAt = r.u64();
  const signedPart = r.consumed();
  const signature = r.take(64);
  r.end();
  if (roleId !== 2 && roleId !== 3) throw new ProtocolError('malformed', 'an invitation is for a guardian or a caregiver');
  return { ...head, role: ROLES[roleId], createdAt, signedPart, signature };
}

/**
 * @param {AccountKeys} therapist
 * @param {{bookletId: Uint8Array, invitation: AccountKeys, role: string, createdAt: number}} args
 */
export async function signInvitation(therapist, { bookletId, invitation, role, createdAt }) {
  if (role !== 'guardian' && role !== 'caregiver') throw new ProtocolError('malformed', 'an invitation is for a guardian or a caregiver');
  const unsigned = new Writer(TYPE.INVITATION).fixed(bookletId, 16).fixed(therapist.accountId, 16)
    .fixed(invitation.identityPublic, 32).fixed(invitation.encryptionPublic, 32).u8(ROLE_IDS[role]).u64(createdAt).finish();
  return concat(unsigned, await sign(therapist.identity.privateKey, LABEL.INVITATION_SIGNATURE, unsigned));
}

/**
 * @param {Uint8Array} data
 * @param {{therapistIdentityKey: Uint8Array, bookletId: Uint8Array, therapistId: Uint8Array}} ctx
 * @returns {Promise<Invitation>}
 */
export async function verifyInvitation(data, { therapistIdentityKey, bookletId, therapistId }) {
  const inv = parseInvitation(data);
  await verify(therapistIdentityKey, inv.signature, LABEL.INVITATION_SIGNATURE, inv.signedPart);
  if (!equal(inv.bookletId, bytes(bookletId, 16))) throw new ProtocolError('wrong-booklet');
  if (!equal(inv.therapistId, bytes(therapistId, 16))) throw new ProtocolError('wrong-author');
  if (!isValidEd25519Key(inv.invitationIk)) throw new ProtocolError('invalid-key', 'invitation key');
  return inv;
}

/** The joiner's check that the record is the invitation her secret makes. @param {Invitation} inv @param {AccountKeys} keys */
export function checkInvitationSecret(inv, keys) {
  if (!equal(inv.invitationIk, keys.identityPublic) || !equal(inv.invitationEk, keys.encryptionPublic)) {
    throw new ProtocolError('invitation-mismatch');
  }
}

/**
 * @param {AccountKeys} invitation
 * @param {{bookletId: Uint8Array, memberId: Uint8Array, memberIk: Uint8Array}} args
 */
export async function signJoinProof(invitation, { bookletId, memberId, memberIk }) {
  const unsigned = new Writer(TYPE.JOIN_PROOF).fixed(bookletId, 16).fixed(invitation.identityPublic, 32)
    .fixed(memberId, 16).fixed(memberIk, 32).finish();
  return concat(unsigned, await sign(invitation.identity.privateKey, LABEL.JOIN_PROOF_SIGNATURE, unsigned));
}

/**
 * `inv` already verified: the proof is by its key, for this member.
 * @param {Uint8Array} data @param {Invitation} inv
 * @param {{memberId: Uint8Array, memberIk: Uint8Array}} member
 */
export async function verifyJoinProof(data, inv, { memberId, memberIk }) {
  const r = new Reader(data, TYPE.JOIN_PROOF);
  const proof = { bookletId: r.take(16), invitationIk: r.take(32), memberId: r.take(16), memberIk: r.take(32) };
  const signedPart = r.consumed();
  const signature = r.take(64);
  r.end();
  if (!equal(proof.invitationIk, inv.invitationIk)) throw new ProtocolError('invitation-mismatch');
  await verify(inv.invitationIk, signature, LABEL.JOIN_PROOF_SIGNATURE, signedPart);
  if (!equal(proof.bookletId, inv.bookletId)) throw new ProtocolError('wrong-booklet');
  if (!equal(proof.memberId, bytes(memberId, 16))) throw new ProtocolError('account-mismatch');
  if (!equal(proof.memberIk, bytes(memberIk, 32))) throw new ProtocolError('roster-key-mismatch', 'the proof names another key');
  return proof;
}

// -- the link's fragment ---------------------------------------------------------------------

const B64URL = /^[A-Za-z0-9_-]{43}$/;
const FP = /^[0-9a-f]{32}$/;

/** @typedef {{secret: Uint8Array, therapistFingerprint: string, via: 'qr' | 'link'}} Fragment */

/** @param {Fragment} f */
export function encodeFragment({ secret, therapistFingerprint, via }) {
  return `i=${toBase64url(bytes(secret, 32))}&f=${therapistFingerprint}&via=${via}`;
}

/** The part after `#` (a leading `#` allowed): exactly i, f and via. @param {string} text @returns {Fragment} */
export function parseFragment(text) {
  /** @type {Record<string, string>} */
  const fields = {};
  for (const part of text.replace(/^#/, '').split('&')) {
    const at = part.indexOf('=');
    const name = at < 0 ? '' : part.slice(0, at);
    if (at < 0 || Object.hasOwn(fields, name)) throw new ProtocolError('malformed', 'invitation fragment');
    fields[name] = part.slice(at + 1);
  }
  const names = Object.keys(fields).sort().join(',');
  if (names !== 'f,i,via' || !['qr', 'link'].includes(fields.via) || !B64URL.test(fields.i) || !FP.test(fields.f)) {
    throw new ProtocolError('malformed', 'invitation fragment');
  }
  return { secret: fromBase64url(fields.i), therapistFingerprint: fields.f, via: /** @type {'qr'|'link'} */ (fields.via) };
}

/** The §6.1 fingerprint without spaces, as a fragment carries it. @param {Uint8Array} identityKey */
export async function compactFingerprint(identityKey) {
  return toHex((await sha256(LABEL.FINGERPRINT, bytes(identityKey, 32, 'invalid-key'))).subarray(0, 16));
}
