// The QR encoder of invitation links (app/qr.mjs) against the `qrcode` Python package
// (tests/vectors/qr-byte-m.json, made by tools/gen_qr_vectors.py): the same version and every
// module the same, for each mask, for short and long texts, UTF-8, and the most version 10
// holds; the mask chosen on its own is one of the eight, and too long a text is refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.mjs';

const { encodeQr, penalty } = await import('../../src/secure_msg/web/static/app/qr.mjs');
const { vectors } = JSON.parse(readFileSync(path.join(repoRoot, 'tests', 'vectors', 'qr-byte-m.json'), 'utf8'));
const bits = (dark) => dark.map((row) => row.map((on) => (on ? '1' : '0')).join(''));

test('every vector, module by module', () => {
  assert.ok(vectors.length >= 20);
  for (const v of vectors) {
    const chosen = encodeQr(v.text);
    assert.equal(chosen.version, v.version, v.text);
    const fixed = encodeQr(v.text, { mask: v.mask });
    assert.deepEqual(bits(fixed.dark), v.rows, `${v.text.slice(0, 40)} mask ${v.mask}`);
  }
});

test('the mask chosen has the lowest penalty of the eight', () => {
  for (const text of new Set(vectors.map((v) => v.text))) {
    const chosen = encodeQr(text);
    const scores = [0, 1, 2, 3, 4, 5, 6, 7].map((mask) => penalty(encodeQr(text, { mask }).dark));
    assert.equal(penalty(chosen.dark), Math.min(...scores), text);
  }
});

test('too long for version 10 at level M is refused', () => {
  assert.equal(encodeQr('y'.repeat(213)).version, 10);
  assert.throws(() => encodeQr('y'.repeat(214)), RangeError);
});
