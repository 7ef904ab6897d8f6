/**
 * Caregivers and the guardians' signed consent (docs/protocol.md §5.1), as client/consent.py
 * does it: a post or history grant reaches a caregiver only with a valid approval from every
 * guardian this device knows in the booklet, none withdrawn, the same terms in each, and the
 * end not passed on this device's clock. The server's word that they are a member is not enough.
 */
import { CONSENT, ProtocolError, fromBase64url, fromHex, sealConsent, toBase64url, toHex, verifyConsent, verifyKeyStatement } from '../crypto/index.mjs';
import { api } from './api.mjs';
import { keyChanged, observe } from './pins.mjs';
import { getPin, putPin, state } from './session.mjs';

/** A post or grant refused before sealing: `code` is consent-missing, consent-withdrawn, terms-mismatch, membership-expired or consent-scope. */
export class ConsentRefused extends Error {
  /** @param {string} code @param {string} who the caregiver's id */
  constructor(code, who) {
    super(`${code}: ${who}`);
    this.name = 'ConsentRefused';
    this.code = code;
    this.who = who;
  }
}

/** GET …/caregivers: newest terms first. @param {string} bookletId @returns {Promise<any[]>} */
export async function caregivers(bookletId) {
  return (await api('GET', `/api/booklets/${bookletId}/caregivers`)).caregivers;
}

/** The last day an `until` (a midnight) covers, as a local date. @param {string} until */
export const lastDay = (until) => new Date(Date.parse(until) - 1);

/**
 * The consented terms of one caregiver, or ConsentRefused.
 * @param {string} bookletId @param {{id: string, pinnedKey: Uint8Array}} caregiver
 * @param {Map<string, Uint8Array>} guardians id → pinned identity key
 * @param {any} row the caregiver's row of GET …/caregivers, or undefined @param {number} now
 */
export async function checkCaregiver(bookletId, caregiver, guardians, row, now) {
  if (!guardians.size || !row) throw new ConsentRefused('consent-missing', caregiver.id);
  /** @type {Map<string, {until: number, scope: number}>} */ const approvals = new Map();
  for (const rec of row.consents ?? []) {
    const key = guardians.get(rec.guardian_id);
    if (!key) continue; // not a guardian here: counts for nothing
    const action = rec.action === 'approve' ? CONSENT.APPROVE : CONSENT.WITHDRAW;
    let c;
    try {
      c = await verifyConsent(fromBase64url(rec.record), {
        guardianIdentityKey: key, action, bookletId: fromHex(bookletId), guardianId: fromHex(rec.guardian_id),
        caregiverId: fromHex(caregiver.id), caregiverIdentityKey: caregiver.pinnedKey,
      });
    } catch {
      continue; // a record that does not verify is as good as none
    }
    if (action === CONSENT.WITHDRAW) throw new ConsentRefused('consent-withdrawn', caregiver.id);
    approvals.set(rec.guardian_id, { until: c.until, scope: c.scope });
  }
  if ([...guardians.keys()].some((g) => !approvals.has(g))) throw new ConsentRefused('consent-missing', caregiver.id);
  const terms = new Set([...approvals.values()].map((a) => `${a.until}/${a.scope}`));
  if (terms.size !== 1) throw new ConsentRefused('terms-mismatch', caregiver.id);
  const [{ until, scope }] = approvals.values();
  if (until <= now) throw new ConsentRefused('membership-expired', caregiver.id);
  return { until, scope };
}

/**
 * Every caregiver among `members` must be consented; returns id → terms.
 * @param {string} bookletId @param {import('./data.mjs').Member[]} members
 */
export async function requireConsent(bookletId, members) {
  const isRole = (m, role) => m.role === role || m.pinnedRole === role;
  const cares = members.filter((m) => !m.removed && isRole(m, 'caregiver') && m.id !== state.account?.id);
  /** @type {Map<string, {until: number, scope: number}>} */ const out = new Map();
  if (!cares.length) return out;
  const guardians = new Map(members.filter((m) => !m.removed && isRole(m, 'guardian') && !cares.includes(m))
    .map((m) => [m.id, m.pinnedKey]));
  const rows = await caregivers(bookletId);
  for (const c of cares) {
    out.set(c.id, await checkCaregiver(bookletId, c, guardians, rows.find((r) => r.account_id === c.id), Date.now()));
  }
  return out;
}

/**
 * The caregiver's identity key from the row's verified key statement, pinned on first sight
 * with the role caregiver like a member's; a key other than the pinned one is refused.
 * @param {string} bookletId @param {any} row
 */
async function caregiverKey(bookletId, row) {
  const st = await verifyKeyStatement(fromBase64url(row.key_statement), { accountId: fromHex(row.account_id) });
  const ik = toHex(st.identityKey);
  const seen = observe(getPin(row.account_id), { ik, name: row.name ?? null, role: 'caregiver', bookletId });
  if (seen.changed) putPin(row.account_id, seen.pin);
  if (keyChanged(seen.pin, ik)) throw new ProtocolError('identity-key-changed', row.account_id);
  return st.identityKey;
}

/**
 * Sign and send my approval or withdrawal of the caregiver's key and the row's terms.
 * @param {string} bookletId @param {any} row @param {'approve' | 'withdraw'} action
 */
export async function signConsent(bookletId, row, action) {
  const key = await caregiverKey(bookletId, row);
  const record = await sealConsent(state.keys, {
    action: action === 'approve' ? CONSENT.APPROVE : CONSENT.WITHDRAW, bookletId: fromHex(bookletId),
    caregiverId: fromHex(row.account_id), caregiverIdentityKey: key, until: Date.parse(row.until),
    scope: row.scope === 'new' ? CONSENT.SCOPE_NEW : CONSENT.SCOPE_HISTORY, createdAt: Date.now(),
  });
  return api('POST', `/api/booklets/${bookletId}/caregivers/${row.account_id}/consents`, { record: toBase64url(record) });
}
