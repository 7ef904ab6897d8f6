// The history check (app/history.mjs) against tests/vectors/history-v1.json, written by hand from
// docs/protocol.md §4.6 and run by the Python client too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistory } from '../../src/secure_msg/web/static/app/history.mjs';
import { readJson } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'history-v1.json');

/** The vectors' snake_case input, as the module takes it. */
const input = (i) => ({
  since: i.since, lastSeq: i.last_seq, joinedSeq: i.joined_seq,
  checkpoint: i.checkpoint && { seq: i.checkpoint.seq, entryHash: i.checkpoint.entry_hash, joinedSeq: i.checkpoint.joined_seq },
  items: i.items.map((x) => ({ seq: x.seq, prevHash: x.prev_hash, entryHash: x.entry_hash })),
});
const checkpointOut = (c) => c && { seq: c.seq, entry_hash: c.entryHash, joined_seq: c.joinedSeq };

let ran = 0;
for (const c of V.cases) {
  test(`history vector: ${c.name}`, () => {
    const out = checkHistory(input(c.input));
    assert.deepEqual(out.problems, c.expect.problems);
    assert.deepEqual(checkpointOut(out.checkpoint), c.expect.checkpoint);
    ran += 1;
  });
}

test('every history vector ran', () => {
  assert.ok(V.cases.length >= 20, `only ${V.cases.length} cases`);
  assert.equal(new Set(V.cases.map((c) => c.name)).size, V.cases.length, 'case names are unique');
  assert.equal(ran, V.cases.length);
});

test("a huge last_seq from the server is one run, not a loop over the range", () => {
  const out = checkHistory({ since: 0, lastSeq: Number.MAX_SAFE_INTEGER, joinedSeq: 0, checkpoint: null, items: [] });
  assert.deepEqual(out.problems, [{ code: 'entries-missing', from: 1, to: Number.MAX_SAFE_INTEGER }]);
});
