// The texts of attached files (app/files-text.mjs): the same keys and {slots} in fi, sv and en,
// and every ft('key') the code names is there, so no screen shows a raw key.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.mjs';

globalThis.navigator ??= /** @type {any} */ ({ language: 'fi' }); // Node 20 has none; i18n.mjs reads it
const { TEXTS, formatSize } = await import('../../src/secure_msg/web/static/app/files-text.mjs');
const slots = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('fi, sv and en have the same keys and slots', () => {
  const keys = Object.keys(TEXTS.en).sort();
  for (const code of ['fi', 'sv']) {
    assert.deepEqual(Object.keys(TEXTS[code]).sort(), keys, code);
    for (const key of keys) assert.deepEqual(slots(TEXTS[code][key]), slots(TEXTS.en[key]), `${code}.${key}`);
  }
});

test("every ft('key') in the app has a text", () => {
  const app = path.join(repoRoot, 'src', 'secure_msg', 'web', 'static', 'app');
  const files = [...readdirSync(app).map((f) => path.join(app, f)), ...readdirSync(path.join(app, 'views')).map((f) => path.join(app, 'views', f))];
  const named = new Set();
  for (const f of files.filter((x) => x.endsWith('.mjs'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bft\('([a-z0-9_]+)'/g)) named.add(m[1]);
  }
  assert.ok(named.size >= 15, `found ${named.size}`);
  for (const key of named) assert.ok(key in TEXTS.en, `ft('${key}') has no text`);
});

test('sizes in units of 1024', () => {
  assert.equal(formatSize(12), '12 B');
  assert.equal(formatSize(25 * 1024 * 1024), '25 MB');
  assert.equal(formatSize(1536), '1,5 kB'); // fi by default: a decimal comma
});
