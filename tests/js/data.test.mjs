// The inbox's data layer (app/data.mjs) against a server that lies in its JSON: what an entry is
// (kind, id, sequence, time) comes from its signed header, and title, homework and notices count
// only when the booklet's therapist signed them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AccountKeys, KIND, KeyBundle, encodePayload, entryHash, fromBase64url, fromHex, randomBytes, sealEntry, toBase64url, toHex,
} from '../../src/secure_msg/web/static/crypto/index.mjs';

globalThis.navigator ??= /** @type {Navigator} */ ({ language: 'en' }); // app/i18n.mjs reads it on import; Node 20 has none
const { Opener, bookletTitle, members, readEntries } = await import('../../src/secure_msg/web/static/app/data.mjs');
const { getCheckpoint, state } = await import('../../src/secure_msg/web/static/app/session.mjs');

const BOOKLET = toHex(randomBytes(16));
const NOW = Date.now();
const newKeys = () => AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)));
const [therapist, parent] = await Promise.all([newKeys(), newKeys()]);
const memberRows = await Promise.all([[therapist, 'therapist'], [parent, 'guardian']].map(async ([keys, role]) => ({
  account_id: toHex(keys.accountId), role, name: role, key_statement: toBase64url(await keys.statement(NOW)), joined_seq: 0,
})));

// The parent reads, with nothing stored on this "device".
Object.assign(state, { account: { id: toHex(parent.accountId), login: 'aiti' }, keys: parent, memoryOnly: true, pins: {} });

/** The fake server's entry listing, as GET …/entries answers it, and its last_seq when it lies about it. */
let listing = [];
let reportedLast = null;
globalThis.fetch = async (path) => {
  const { pathname, searchParams } = new URL(path, 'http://server');
  if (pathname.endsWith('/members')) return Response.json({ members: memberRows });
  if (pathname.endsWith('/grants')) return Response.json({ grants: [] });
  if (pathname.endsWith('/entries')) {
    const since = Number(searchParams.get('since'));
    return Response.json({ entries: listing.filter((e) => e.seq > since), last_seq: reportedLast ?? Math.max(0, ...listing.map((e) => e.seq)) });
  }
  return Response.json({}, { status: 404 });
};

/** An entry sealed to both members and listed as an honest server lists it. */
async function listed(author, kind, fields, seq, prevHash = new Uint8Array(32)) {
  const entryId = randomBytes(16);
  const createdAt = NOW - 60_000 + seq;
  const envelope = await sealEntry(author, {
    bookletId: fromHex(BOOKLET), entryId, kind: KIND[kind], sequence: seq, prevHash, createdAt,
    plaintext: encodePayload(KIND[kind], fields),
    recipients: [therapist, parent].map((k) => ({ accountId: k.accountId, encryptionKey: k.encryptionPublic })),
  });
  return {
    seq, entry_id: toHex(entryId), author_id: toHex(author.accountId), kind: KIND[kind],
    created_at: new Date(createdAt).toISOString().replace('Z', '+00:00'), envelope: toBase64url(envelope),
  };
}

const story = () => Promise.all([
  listed(therapist, 'title', { title: 'Aino' }, 1),
  listed(parent, 'note', { text: 'Hello' }, 2),
  listed(therapist, 'homework', { task: 'Cut along the line', frequency: 'daily' }, 3),
  listed(therapist, 'homework', { task: 'Read aloud', frequency: 'daily' }, 4),
]);

async function read(rows) {
  listing = rows;
  return (await readEntries(new Opener(BOOKLET, await members(BOOKLET, { all: true })))).entries;
}

test('an honest listing opens: kind, id, sequence and time are the signed ones', async () => {
  const rows = await story();
  const entries = await read(rows);
  assert.deepEqual(entries.map((e) => [e.seq, e.id, e.kind, e.error]), rows.map((r, i) => [i + 1, r.entry_id, ['title', 'note', 'homework', 'homework'][i], undefined]));
  assert.deepEqual(entries.map((e) => Date.parse(e.createdAt)), rows.map((r) => Date.parse(r.created_at)));
  assert.equal(entries[1].payload.text, 'Hello');
});

/** What a server can change in its JSON; each returns the indexes of the entries it spoilt. */
const LIES = {
  "relabels the parent's note as a notice": (rows) => { rows[1].kind = KIND.system; return [1]; },
  "swaps two homework entries' ids": (rows) => { [rows[2].entry_id, rows[3].entry_id] = [rows[3].entry_id, rows[2].entry_id]; return [2, 3]; },
  'renumbers an entry': (rows) => { rows[3].seq = 5; return [3]; },
  "backdates the parent's note": (rows) => { rows[1].created_at = '2021-01-01T08:00:00.000+00:00'; return [1]; },
};

for (const [what, lie] of Object.entries(LIES)) {
  test(`a server that ${what} shows a protocol error, not another entry`, async () => {
    const rows = await story();
    const spoilt = lie(rows);
    const entries = await read(rows);
    entries.forEach((e, i) => {
      if (spoilt.includes(i)) {
        assert.equal(e.payload, null, `entry ${i}`);
        assert.equal(e.error, 'malformed', `entry ${i}`);
        assert.equal(e.contentKey, undefined, `entry ${i} is not re-shared in a grant`);
      } else {
        assert.ok(e.payload && !e.error, `entry ${i} still opens`);
      }
    });
  });
}

test('title, homework and notices count only from the therapist', async () => {
  const rows = await Promise.all([
    listed(parent, 'title', { title: 'Not Aino' }, 1),
    listed(parent, 'homework', { task: 'Fake task', frequency: 'daily' }, 2),
    listed(parent, 'system', { text: 'Your therapist has left' }, 3),
    listed(therapist, 'system', { text: 'The booklet moved' }, 4),
  ]);
  const entries = await read(rows);
  assert.deepEqual(entries.map((e) => e.error ?? e.kind), ['wrong-author', 'wrong-author', 'wrong-author', 'system']);
  assert.deepEqual(entries.slice(0, 3).map((e) => e.payload), [null, null, null]);
});

test("the inbox's title is only a title entry the therapist signed", async () => {
  const title = (row) => bookletTitle({ id: BOOKLET, title_envelope: row.envelope });
  assert.equal(await title(await listed(therapist, 'title', { title: 'Aino' }, 1)), 'Aino');
  // A payload may carry extra fields: a note with a "title" is still a note.
  assert.equal(await title(await listed(parent, 'note', { text: 'hi', title: 'Fake' }, 2)), null);
  assert.equal(await title(await listed(therapist, 'note', { text: 'hi', title: 'Fake' }, 2)), null);
  assert.equal(await title(await listed(parent, 'title', { title: 'Fake' }, 2)), null);
});

/** Notes 1..n by the therapist, each linked to the one before, as the server stores them. */
async function chain(n) {
  const rows = [];
  let prev = new Uint8Array(32);
  for (let seq = 1; seq <= n; seq++) {
    const row = await listed(therapist, 'note', { text: `note ${seq}` }, seq, prev);
    prev = await entryHash(fromBase64url(row.envelope));
    rows.push(row);
  }
  return rows;
}

/** Read with this device's checkpoint (in memory here), from none when `fresh`. */
async function readBooklet(rows, since = 0, { fresh = false } = {}) {
  if (fresh) state.checkpoints = {};
  listing = rows;
  return readEntries(new Opener(BOOKLET, await members(BOOKLET, { all: true })), since);
}

test('an honest chain has no problems and moves the checkpoint to its last entry', async () => {
  const rows = await chain(3);
  const { problems, entries } = await readBooklet(rows, 0, { fresh: true });
  assert.deepEqual(problems, []);
  assert.equal(entries.length, 3);
  assert.deepEqual(getCheckpoint(BOOKLET), { seq: 3, entryHash: toHex(await entryHash(fromBase64url(rows[2].envelope))), joinedSeq: 0 });
});

test('a dropped entry is reported, the others still open, and the checkpoint stays', async () => {
  const rows = await chain(4);
  const { problems, entries } = await readBooklet([rows[0], rows[1], rows[3]], 0, { fresh: true });
  // Entry 4 has no predecessor in this read to link to: the gap is what shows.
  assert.deepEqual(problems, [{ code: 'entries-missing', from: 3, to: 3 }]);
  assert.deepEqual(entries.map((e) => [e.seq, e.payload?.text]), [[1, 'note 1'], [2, 'note 2'], [4, 'note 4']]);
  assert.equal(getCheckpoint(BOOKLET), null);
});

test('an incremental read links to the checkpoint; another entry at its sequence is a rewrite', async () => {
  const rows = await chain(3);
  await readBooklet(rows.slice(0, 2), 0, { fresh: true });
  assert.equal(getCheckpoint(BOOKLET).seq, 2);
  assert.deepEqual((await readBooklet(rows, 2)).problems, []);
  assert.equal(getCheckpoint(BOOKLET).seq, 3);
  const fork = await listed(therapist, 'note', { text: 'another note 3' }, 3, await entryHash(fromBase64url(rows[1].envelope)));
  const again = await readBooklet([rows[0], rows[1], fork]);
  assert.deepEqual(again.problems, [{ code: 'history-rewritten', seq: 3 }]);
  assert.equal(again.entries[2].payload?.text, 'another note 3', `a signed entry still opens: ${again.entries[2].error}`);
  assert.equal(getCheckpoint(BOOKLET).seq, 3);
});

test('a server reporting a last_seq below the checkpoint has rewritten the history', async () => {
  const rows = await chain(2);
  await readBooklet(rows, 0, { fresh: true });
  reportedLast = 1;
  try {
    const { problems } = await readBooklet(rows, 2);
    assert.deepEqual(problems, [{ code: 'history-rewritten', seq: 2 }]);
  } finally {
    reportedLast = null;
  }
});

test('a checkpoint moves only once every listed entry opened', async () => {
  const rows = await chain(2);
  await readBooklet(rows, 0, { fresh: true });
  // Entry 3 links correctly but is a "homework" signed by the parent: it fails its own checks.
  const bad = await listed(parent, 'homework', { task: 'Fake', frequency: 'daily' }, 3, await entryHash(fromBase64url(rows[1].envelope)));
  const { problems, entries } = await readBooklet([...rows, bad], 2);
  assert.deepEqual(problems, []);
  assert.equal(entries[0].error, 'wrong-author');
  assert.equal(getCheckpoint(BOOKLET).seq, 2);
});

test('a checkpoint stored before joined_seq was kept counts as joined at 0', async () => {
  const rows = await chain(2);
  const hash = toHex(await entryHash(fromBase64url(rows[1].envelope)));
  state.checkpoints = { [BOOKLET]: { seq: 2, entryHash: hash } };
  assert.deepEqual(getCheckpoint(BOOKLET), { seq: 2, entryHash: hash, joinedSeq: 0 });
  assert.deepEqual((await readBooklet(rows, 2)).problems, []);
});

test('a new joined_seq is reported once, and the checkpoint keeps it', async () => {
  const rows = await chain(4);
  await readBooklet(rows.slice(0, 2), 0, { fresh: true });
  const mine = memberRows.find((r) => r.account_id === toHex(parent.accountId));
  mine.joined_seq = 3; // "removed and invited back": entry 3 is excused
  try {
    const first = await readBooklet([rows[0], rows[1], rows[3]], 0);
    assert.deepEqual(first.problems, [{ code: 'membership-restarted', seq: 3 }]);
    assert.deepEqual(getCheckpoint(BOOKLET), { seq: 4, entryHash: toHex(await entryHash(fromBase64url(rows[3].envelope))), joinedSeq: 3 });
    assert.deepEqual((await readBooklet([rows[0], rows[1], rows[3]], 0)).problems, []);
  } finally {
    mine.joined_seq = 0;
  }
});
