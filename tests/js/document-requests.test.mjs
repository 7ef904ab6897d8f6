// The document-requests panel (app/views/document-requests.mjs): its texts in fi, sv and en have
// the same keys and slots, the guardian's action reads "Pyydä lausunto / Begär utlåtande /
// Request a statement", and a request's line names its kind and dates in words.
import assert from 'node:assert/strict';
import { test } from 'node:test';

const appDir = '../../src/secure_msg/web/static/app';
globalThis.navigator ??= { language: 'en' }; // i18n.mjs reads it at import (Node 20 has none)
const { TEXTS, describeRequest } = await import(`${appDir}/views/document-requests.mjs`);
const slots = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const tr = (code) => (key, vars = {}) => TEXTS[code][key].replace(/\{(\w+)\}/g, (_, n) => String(vars[n]));

test('fi, sv and en have the same keys and slots', () => {
  const keys = Object.keys(TEXTS.en).sort();
  for (const code of ['fi', 'sv']) {
    assert.deepEqual(Object.keys(TEXTS[code]).sort(), keys, code);
    for (const k of keys) assert.deepEqual(slots(TEXTS[code][k]), slots(TEXTS.en[k]), `${code}.${k}`);
  }
});

test('the guardian asks for a statement in each language', () => {
  assert.deepEqual(['fi', 'sv', 'en'].map((c) => TEXTS[c].ask), ['Pyydä lausunto', 'Begär utlåtande', 'Request a statement']);
});

test('a request reads as its kind and dates', () => {
  const r = { kind: 'statement', created_at: '2026-01-05T10:00:00.000+00:00', due: '2026-02-15' };
  assert.match(describeRequest(r, tr('fi')), /^Lausunto: pyydetty .*5.* tarvitaan .*15.* mennessä$/);
  assert.match(describeRequest({ ...r, due: null, kind: 'plan' }, tr('en')), /^Therapy plan: asked [^,]+$/);
  // A kind this client does not know (a newer server) is "another document", never raw text.
  assert.match(describeRequest({ ...r, kind: '<b>x</b>' }, tr('sv')), /^Annat dokument: /);
});
