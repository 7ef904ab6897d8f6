// The inbox's three languages: every text in each, with the same {slots}, so no screen falls back
// to showing a key or drops a number (a missing-entries range, say) in one language.
import assert from 'node:assert/strict';
import { test } from 'node:test';

const appDir = '../../src/secure_msg/web/static/app';
const tables = Object.fromEntries(await Promise.all(['fi', 'sv', 'en'].map(async (code) => [code, (await import(`${appDir}/lang-${code}.mjs`))[code]])));
const slots = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('fi, sv and en have the same keys', () => {
  const keys = Object.keys(tables.en).sort();
  assert.ok(keys.includes('history_missing'), 'the tables loaded');
  for (const code of ['fi', 'sv']) assert.deepEqual(Object.keys(tables[code]).sort(), keys, code);
});

test('each text has the same {slots} in every language', () => {
  for (const [key, text] of Object.entries(tables.en)) {
    for (const code of ['fi', 'sv']) assert.deepEqual(slots(tables[code][key]), slots(text), `${code}.${key}`);
  }
});
