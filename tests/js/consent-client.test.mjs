// The web inbox seals to a caregiver only with every guardian's valid approval (docs/protocol.md
// §5.1), as client/consent.py does: against a fake server that lists whatever it likes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AccountKeys, CONSENT, KeyBundle, fromHex, randomBytes, sealConsent, signRoster, toBase64url, toHex,
} from '../../src/secure_msg/web/static/crypto/index.mjs';

globalThis.navigator ??= /** @type {Navigator} */ ({ language: 'en' }); // app/i18n.mjs reads it on import
const { post } = await import('../../src/secure_msg/web/static/app/data.mjs');
const { ConsentRefused } = await import('../../src/secure_msg/web/static/app/consent.mjs');
const { RosterRefused } = await import('../../src/secure_msg/web/static/app/roster.mjs');
const { state } = await import('../../src/secure_msg/web/static/app/session.mjs');

const newKeys = () => AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)));
const [therapist, mum, dad, daycare, stranger] = await Promise.all([newKeys(), newKeys(), newKeys(), newKeys(), newKeys()]);
const BOOKLET = toHex(randomBytes(16));
const DAY = 86_400_000;
const UNTIL = Date.now() + 30 * DAY; // the terms of the invitation, the same in every approval
const row = async (keys, role, name) => ({
  account_id: toHex(keys.accountId), role, name, key_statement: toBase64url(await keys.statement(Date.now())), joined_seq: 0,
});
const rows = [await row(therapist, 'therapist', 'Tiina'), await row(mum, 'guardian', 'Äiti'), await row(dad, 'guardian', 'Isä'),
  await row(daycare, 'caregiver', 'Päiväkoti')];
// No signed roster by default (a booklet from before rosters, protocol §6.6): consent alone decides.
const NO_ROSTER = { version: 0, roster: null, joins: [] };
const server = { posted: 0, consents: [], roster: NO_ROSTER };
globalThis.fetch = async (path, init = {}) => {
  const { pathname } = new URL(path, 'http://server');
  if (pathname.endsWith('/members')) return Response.json({ members: rows });
  if (pathname.endsWith('/roster')) return Response.json(server.roster);
  if (pathname.endsWith('/caregivers')) return Response.json({ caregivers: [{ account_id: toHex(daycare.accountId), consents: server.consents }] });
  if (pathname.endsWith('/head')) return Response.json({ last_seq: 0, last_hash: toBase64url(new Uint8Array(32)) });
  if (pathname.endsWith('/entries') && init.method === 'POST') {
    server.posted += 1;
    return Response.json({ entry_id: 'x', seq: 1 });
  }
  return Response.json({}, { status: 404 });
};

const signed = async (guardian, { action = CONSENT.APPROVE, until = UNTIL, scope = CONSENT.SCOPE_NEW, caregiverKey = daycare.identityPublic, as = guardian } = {}) => ({
  guardian_id: toHex(as.accountId), action: action === CONSENT.APPROVE ? 'approve' : 'withdraw',
  record: toBase64url(await sealConsent(guardian, {
    action, bookletId: fromHex(BOOKLET), caregiverId: daycare.accountId, caregiverIdentityKey: caregiverKey, until, scope, createdAt: Date.now(),
  })),
});

async function attempt(consents, roster = NO_ROSTER) {
  Object.assign(state, { account: { id: toHex(mum.accountId), login: 'aiti' }, keys: mum, memoryOnly: true, pins: {}, sealedTo: {}, checkpoints: {} });
  Object.assign(server, { posted: 0, consents, roster });
  return post(BOOKLET, 'note', { text: 'hei' }, { confirm: async () => true });
}

const refused = (code) => (e) => e instanceof ConsentRefused && e.code === code;

test('both guardians approved: the post goes to the caregiver too', async () => {
  await attempt([await signed(mum), await signed(dad)]);
  assert.equal(server.posted, 1);
});

test('one approval missing, or one that does not verify, refuses before sealing', async () => {
  await assert.rejects(attempt([await signed(mum)]), refused('consent-missing'));
  const forged = await signed(stranger, { as: dad }); // the server's own key, in dad's name
  await assert.rejects(attempt([await signed(mum), forged]), refused('consent-missing'));
  const otherKey = await signed(dad, { caregiverKey: stranger.identityPublic });
  await assert.rejects(attempt([await signed(mum), otherKey]), refused('consent-missing'));
  assert.equal(server.posted, 0);
});

test('a withdrawal, other terms or a past end date refuse too', async () => {
  const both = [await signed(mum), await signed(dad)];
  await assert.rejects(attempt([...both, await signed(dad, { action: CONSENT.WITHDRAW })]), refused('consent-withdrawn'));
  await assert.rejects(attempt([await signed(mum), await signed(dad, { scope: CONSENT.SCOPE_HISTORY })]), refused('terms-mismatch'));
  const past = Date.now() - 1;
  await assert.rejects(attempt([await signed(mum, { until: past }), await signed(dad, { until: past })]), refused('membership-expired'));
  assert.equal(server.posted, 0);
});

test('both checks apply: consent is refused first, then a caregiver outside the signed roster', async () => {
  // The therapist's roster lists the family but not the daycare: the server added it by itself.
  const family = [[therapist, 'therapist'], [mum, 'guardian'], [dad, 'guardian']]
    .map(([k, role]) => ({ accountId: k.accountId, identityKey: k.identityPublic, role }));
  const blob = await signRoster(therapist, { bookletId: fromHex(BOOKLET), version: 1, createdAt: Date.now(), members: family });
  const roster = { version: 1, roster: toBase64url(blob), joins: [] };
  // No consent and no roster entry: the guardians' missing approval is what is shown.
  await assert.rejects(attempt([await signed(mum)], roster), refused('consent-missing'));
  // Both guardians approved, still outside the therapist's roster: refused all the same.
  await assert.rejects(attempt([await signed(mum), await signed(dad)], roster),
    (e) => e instanceof RosterRefused && e.code === 'not-in-roster');
  assert.equal(server.posted, 0);
});
