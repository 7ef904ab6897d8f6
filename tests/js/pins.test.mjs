// Pins and new recipients (docs/protocol.md §6.4) in the web inbox: names and roles first seen
// are kept and the pinned role counts; a post asks before it reaches anyone new and unverified,
// over every attempt, and records all of them once stored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AccountKeys, CONSENT, KIND, KeyBundle, encodePayload, randomBytes, sealConsent, sealEntry, toBase64url, toHex, fromHex,
} from '../../src/secure_msg/web/static/crypto/index.mjs';
import { NotConfirmed, newRecipients, observe } from '../../src/secure_msg/web/static/app/pins.mjs';

globalThis.navigator ??= /** @type {Navigator} */ ({ language: 'en' }); // app/i18n.mjs reads it on import
const { Opener, grantHistory, members, nameOf, post, readEntries } = await import('../../src/secure_msg/web/static/app/data.mjs');
const { getSealedTo, setPin, state } = await import('../../src/secure_msg/web/static/app/session.mjs');

const B = 'b'.repeat(32);

test('a first sight pins key, name and role; later listings change nothing', () => {
  const first = observe(undefined, { ik: 'aa', name: 'Liisa', role: 'caregiver', bookletId: B });
  assert.deepEqual(first, { pin: { ik: 'aa', verified: false, name: 'Liisa', roles: { [B]: 'caregiver' } }, changed: true });
  const again = observe(first.pin, { ik: 'bb', name: 'Anna', role: 'therapist', bookletId: B });
  assert.equal(again.changed, false);
  assert.equal(again.pin, first.pin);
});

test('"no name" is pinned like a name', () => {
  const { pin } = observe(undefined, { ik: 'aa', name: null, role: 'guardian', bookletId: B });
  assert.equal(pin.name, null);
  assert.equal(observe(pin, { ik: 'aa', name: 'Tiina', role: 'guardian', bookletId: B }).pin.name, null);
});

test('a pin made before names were pinned adopts the current name once, and a role per booklet', () => {
  const old = { ik: 'aa', verified: true };
  const { pin, changed } = observe(old, { ik: 'aa', name: 'Äiti', role: 'guardian', bookletId: B });
  assert.ok(changed);
  assert.deepEqual(pin, { ik: 'aa', verified: true, name: 'Äiti', roles: { [B]: 'guardian' } });
  const other = observe(pin, { ik: 'aa', name: 'Mamma', role: 'caregiver', bookletId: 'c'.repeat(32) }).pin;
  assert.deepEqual(other.roles, { [B]: 'guardian', ['c'.repeat(32)]: 'caregiver' });
  assert.equal(other.name, 'Äiti');
});

test('new recipients: unverified, never sealed to, not me', () => {
  const m = (id, verified = false) => ({ id, verified });
  assert.deepEqual(newRecipients([m('me'), m('t', true), m('p'), m('c')], ['p'], 'me').map((x) => x.id), ['c']);
});

// A small fake server for the rest: one booklet with a therapist, me (a parent) and whoever joins.
const newKeys = () => AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)));
const [therapist, parent, caregiver] = await Promise.all([newKeys(), newKeys(), newKeys()]);
const BOOKLET = toHex(randomBytes(16));
const row = async (keys, role, name) => ({
  account_id: toHex(keys.accountId), role, name, key_statement: toBase64url(await keys.statement(Date.now())), joined_seq: 0,
});
let rows = [await row(therapist, 'therapist', 'Tiina'), await row(parent, 'guardian', 'Äiti')];
// The caregiver who joins here has the parent's (the only guardian's) signed approval (§5.1).
const approval = await sealConsent(parent, {
  action: CONSENT.APPROVE, bookletId: fromHex(BOOKLET), caregiverId: caregiver.accountId,
  caregiverIdentityKey: caregiver.identityPublic, until: Date.now() + 86_400_000, scope: CONSENT.SCOPE_NEW, createdAt: Date.now(),
});
const caregivers = [{ account_id: toHex(caregiver.accountId), consents: [
  { guardian_id: toHex(parent.accountId), action: 'approve', record: toBase64url(approval) }] }];
/** Posts the server received, and how many more to answer with 409 (calling `onConflict` first). */
const server = { posted: [], conflicts: 0, onConflict: async () => {}, entries: [] };
globalThis.fetch = async (path, init = {}) => {
  const { pathname } = new URL(path, 'http://server');
  if (pathname.endsWith('/members')) return Response.json({ members: rows });
  // No signed roster (a booklet from before rosters, protocol §6.6): §6.4's question applies.
  if (pathname.endsWith('/roster')) return Response.json({ version: 0, roster: null, joins: [] });
  if (pathname.endsWith('/caregivers')) return Response.json({ caregivers });
  if (pathname.endsWith('/head')) return Response.json({ last_seq: 0, last_hash: toBase64url(new Uint8Array(32)) });
  if (pathname.endsWith('/grants') && init.method === 'POST') return Response.json({ entries: 1 });
  if (pathname.endsWith('/grants')) return Response.json({ grants: [] });
  if (pathname.endsWith('/entries') && init.method === 'POST') {
    if (server.conflicts > 0) {
      server.conflicts -= 1;
      await server.onConflict();
      return Response.json({ type: 'sequence-conflict', title: 'moved' }, { status: 409 });
    }
    server.posted.push(JSON.parse(init.body));
    return Response.json({ entry_id: 'x', seq: 1 });
  }
  if (pathname.endsWith('/entries')) return Response.json({ entries: server.entries, last_seq: server.entries.length });
  return Response.json({}, { status: 404 });
};

function fresh() {
  Object.assign(state, { account: { id: toHex(parent.accountId), login: 'aiti' }, keys: parent, memoryOnly: true, pins: {}, sealedTo: {}, checkpoints: {} });
  rows = rows.slice(0, 2);
  Object.assign(server, { posted: [], conflicts: 0, onConflict: async () => {} });
}

/** A confirm that answers `yes` and remembers whom it was asked about. */
function asker(yes) {
  const asked = [];
  return { asked, confirm: async (newcomers) => { asked.push(newcomers.map((m) => m.name)); return yes; } };
}

test('the first post asks about the unverified therapist; the next asks nothing', async () => {
  fresh();
  const first = asker(true);
  await post(BOOKLET, 'note', { text: 'hei' }, first);
  assert.deepEqual(first.asked, [['Tiina']]);
  assert.deepEqual(getSealedTo(BOOKLET), [toHex(parent.accountId), toHex(therapist.accountId)].sort());
  const second = asker(true);
  await post(BOOKLET, 'note', { text: 'taas' }, second);
  assert.deepEqual(second.asked, []);
  assert.equal(server.posted.length, 2);
});

test('Cancel seals and sends nothing; no confirm at all refuses the same way', async () => {
  fresh();
  await assert.rejects(post(BOOKLET, 'note', { text: 'hei' }, asker(false)), NotConfirmed);
  await assert.rejects(post(BOOKLET, 'note', { text: 'hei' }), NotConfirmed);
  assert.equal(server.posted.length, 0);
  assert.deepEqual(getSealedTo(BOOKLET), []);
});

test('a verified member is not asked about', async () => {
  fresh();
  await members(BOOKLET);
  setPin(toHex(therapist.accountId), toHex(therapist.identityPublic), true);
  const ask = asker(true);
  await post(BOOKLET, 'note', { text: 'hei' }, ask);
  assert.deepEqual(ask.asked, []);
});

test('a newcomer added for a retry is asked about, and every attempt is recorded', async () => {
  fresh();
  const ask = asker(true);
  server.conflicts = 1;
  server.onConflict = async () => { rows = [...rows, await row(caregiver, 'caregiver', 'Liisa')]; };
  await post(BOOKLET, 'note', { text: 'hei' }, ask);
  assert.deepEqual(ask.asked, [['Tiina'], ['Liisa']]);
  assert.equal(server.posted.length, 1);
  assert.ok(getSealedTo(BOOKLET).includes(toHex(caregiver.accountId)));
});

test('a newcomer only in a refused attempt is still recorded once the post is stored', async () => {
  fresh();
  await post(BOOKLET, 'note', { text: 'first' }, asker(true)); // the therapist is known now
  rows = [...rows, await row(caregiver, 'caregiver', 'Liisa')];
  server.conflicts = 1;
  server.onConflict = async () => { rows = rows.slice(0, 2); }; // gone again before the retry
  const ask = asker(true);
  await post(BOOKLET, 'note', { text: 'hei' }, ask);
  assert.deepEqual(ask.asked, [['Liisa']]);
  assert.ok(getSealedTo(BOOKLET).includes(toHex(caregiver.accountId)), 'the 409 envelope reached her too');
});

test('a newcomer not confirmed stops the retry: nothing more is sent', async () => {
  fresh();
  await post(BOOKLET, 'note', { text: 'first' }, asker(true));
  server.conflicts = 1;
  server.onConflict = async () => { rows = [...rows, await row(caregiver, 'caregiver', 'Liisa')]; };
  await assert.rejects(post(BOOKLET, 'note', { text: 'hei' }, asker(false)), NotConfirmed);
  assert.equal(server.posted.length, 1);
  assert.ok(!getSealedTo(BOOKLET).includes(toHex(caregiver.accountId)));
});

test('sharing history with an unverified member asks first, and only once', async () => {
  fresh();
  rows = [...rows, await row(caregiver, 'caregiver', 'Liisa')];
  const liisa = (await members(BOOKLET)).find((m) => m.name === 'Liisa');
  const entry = { id: toHex(randomBytes(16)), kind: 'title', contentKey: randomBytes(32), entryHash: randomBytes(32) };
  await assert.rejects(grantHistory(BOOKLET, liisa, [entry], asker(false)), NotConfirmed);
  const ask = asker(true);
  assert.ok(!getSealedTo(BOOKLET).includes(liisa.id));
  assert.equal(await grantHistory(BOOKLET, liisa, [entry], ask), 1);
  assert.deepEqual(ask.asked, [['Liisa']]);
  assert.ok(getSealedTo(BOOKLET).includes(liisa.id)); // she holds my keys now: the next post does not ask
});

test('a member relabelled by the server is shown as first seen, and the pinned role counts', async () => {
  fresh();
  rows = [...rows, await row(caregiver, 'caregiver', 'Liisa')];
  await members(BOOKLET, { all: true });
  rows = rows.map((r) => (r.account_id === toHex(caregiver.accountId) ? { ...r, role: 'therapist', name: 'Tiina' } : r));
  const all = await members(BOOKLET, { all: true });
  const liisa = all.find((m) => m.id === toHex(caregiver.accountId));
  assert.deepEqual([liisa.relabelled, liisa.pinnedName, liisa.pinnedRole, liisa.role], [true, 'Liisa', 'caregiver', 'therapist']);
  const t = (key, slots = {}) => ({ name_role: `${slots.name} (${slots.role})`, first_seen_as: `${slots.now} — first seen as ${slots.first}` }[key] ?? key.replace('role_', ''));
  assert.equal(nameOf(liisa, t), 'Tiina (therapist) — first seen as Liisa (caregiver)');
  assert.equal(all.filter((m) => m.relabelled).length, 1);

  const sealed = await sealEntry(caregiver, {
    bookletId: fromHex(BOOKLET), entryId: randomBytes(16), kind: KIND.homework, sequence: 1, prevHash: new Uint8Array(32),
    createdAt: Date.now(), plaintext: encodePayload(KIND.homework, { task: 'Fake', frequency: 'daily' }),
    recipients: [therapist, parent, caregiver].map((k) => ({ accountId: k.accountId, encryptionKey: k.encryptionPublic })),
  });
  await assert.rejects(new Opener(BOOKLET, all).open(liisa.id, sealed), { code: 'wrong-author' });
  server.entries = [{ seq: 1, entry_id: toHex(sealed.subarray(20, 36)), author_id: liisa.id, kind: KIND.homework, created_at: new Date().toISOString(), envelope: toBase64url(sealed) }];
  const { entries } = await readEntries(new Opener(BOOKLET, all));
  assert.deepEqual(entries.map((e) => [e.kind, e.error]), [['homework', 'wrong-author']]);
  server.entries = [];
});
