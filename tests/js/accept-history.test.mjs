// Accepting a booklet's history after a restore (app/history.mjs, docs/protocol.md §4.6): when
// the inbox offers it, and the checkpoint it keeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptedCheckpoint, canAcceptHistory } from '../../src/secure_msg/web/static/app/history.mjs';

const H = (c) => c.repeat(64);
const rewritten = { code: 'history-rewritten', seq: 4 };
const restarted = { code: 'membership-restarted', seq: 2 };
const broken = { code: 'chain-broken', seq: 3 };
const missing = { code: 'entries-missing', from: 2, to: 3 };

test('accepting is offered for a booklet that went back, alone or with a re-join', () => {
  assert.equal(canAcceptHistory([rewritten]), true);
  assert.equal(canAcceptHistory([restarted, rewritten]), true);
});

test('accepting is never offered for a broken chain, missing entries or a re-join alone', () => {
  assert.equal(canAcceptHistory([]), false);
  assert.equal(canAcceptHistory([broken]), false);
  assert.equal(canAcceptHistory([missing]), false);
  assert.equal(canAcceptHistory([restarted]), false);
  // not what a restore causes, so accepting could silence a withheld or forged entry
  assert.equal(canAcceptHistory([rewritten, missing]), false);
  assert.equal(canAcceptHistory([rewritten, broken]), false);
});

test('the accepted checkpoint is the highest entry of the clean re-read, with its joined_seq', () => {
  const entries = [{ seq: 1, entryHash: H('a') }, { seq: 3, entryHash: H('c') }, { seq: 2, entryHash: H('b') }];
  assert.deepEqual(acceptedCheckpoint({ problems: [rewritten, restarted], joinedSeq: 2, entries }),
    { ok: true, checkpoint: { seq: 3, entryHash: H('c'), joinedSeq: 2 } });
  assert.deepEqual(acceptedCheckpoint({ problems: [], joinedSeq: 0, entries: [] }), { ok: true, checkpoint: null });
});

test('a re-read with another problem, or an entry that does not open, is not accepted', () => {
  const entries = [{ seq: 1, entryHash: H('a') }, { seq: 2, entryHash: H('b') }];
  assert.deepEqual(acceptedCheckpoint({ problems: [rewritten, missing], joinedSeq: 0, entries }), { ok: false });
  assert.deepEqual(acceptedCheckpoint({ problems: [broken], joinedSeq: 0, entries }), { ok: false });
  assert.deepEqual(acceptedCheckpoint({ problems: [rewritten], joinedSeq: 0, entries: [...entries, { seq: 3, entryHash: null }] }),
    { ok: false });
});
