// The access log panel (app/views/access-log.mjs): its texts in fi, sv and en, a line in words for
// every action the server shows members (model/access_log.py Access), ranges counted, and a CSV
// that a spreadsheet cannot read a formula from.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.mjs';

const appDir = '../../src/secure_msg/web/static/app';
globalThis.navigator ??= { language: 'en' }; // i18n.mjs reads it at import (Node 20 has none)
const { TEXTS, accessCsv, countRanges, describeAccess } = await import(`${appDir}/views/access-log.mjs`);
const slots = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const tr = (key, vars = {}) => TEXTS.en[key].replace(/\{(\w+)\}/g, (_, n) => String(vars[n]));
const common = (key) => ({ role_caregiver: 'caregiver', role_guardian: 'guardian' })[key] ?? key;
const names = { aa: 'Äiti', bb: 'Päiväkoti', cc: 'Tiina' };
const nameFor = (id) => names[id] ?? 'an unknown account';
// Every key any action's detail has (services/access_log.py, account_service.py, booklet_service.py).
const FULL = { role: 'guardian', kind: 'booklet', entries: 2, grantee: 'aa', member: 'bb', invited_by: 'cc', seq: 4, from: 1, to: 2, count: 2, ranges: '1-2', blob: 'x', caregiver: 'bb' };

test('fi, sv and en have the same keys and slots', () => {
  const keys = Object.keys(TEXTS.en).sort();
  for (const code of ['fi', 'sv']) {
    assert.deepEqual(Object.keys(TEXTS[code]).sort(), keys, code);
    for (const k of keys) assert.deepEqual(slots(TEXTS[code][k]), slots(TEXTS.en[k]), `${code}.${k}`);
  }
});

test('every action the server shows members reads as words', () => {
  const model = readFileSync(path.join(repoRoot, 'src', 'secure_msg', 'model', 'access_log.py'), 'utf8');
  const block = model.match(/class Access\(StrEnum\):(.*?)\nclass /s)[1];
  const actions = [...block.matchAll(/= "([a-z._-]+)"/g)].map((m) => m[1]);
  assert.ok(actions.includes('entries.fetched') && actions.length >= 10, actions.join());
  for (const action of actions) {
    const { what } = describeAccess({ actor: 'aa', actor_ref: 'account:aa', action, detail: FULL }, nameFor, tr, common);
    assert.notEqual(what, action, action);
    assert.doesNotMatch(what, /\{|undefined/, action);
  }
});

test('a read, a join, a grant and an outsider read as they happened', () => {
  const say = (item) => describeAccess({ actor: 'bb', actor_ref: 'account:bb', ...item }, nameFor, tr, common);
  assert.deepEqual(say({ action: 'entries.fetched', detail: { from: 1, to: 9, count: 4, ranges: '1,5-7' } }),
    { who: 'Päiväkoti', what: 'read 4 entries (1,5-7)' });
  assert.equal(say({ action: 'member.joined', detail: { role: 'caregiver', invited_by: 'cc' } }).what,
    'joined as caregiver, invited by Tiina');
  assert.equal(say({ action: 'history.granted', detail: { grantee: 'aa', entries: 3 } }).what,
    'let Äiti read 3 earlier entries');
  assert.equal(say({ actor: null, actor_ref: 'anonymous', action: 'share.opened', detail: {} }).who,
    'someone outside the booklet');
  assert.equal(say({ action: 'booklet.exported', detail: { kind: 'access-log' } }).what, 'downloaded the access log');
  assert.equal(say({ actor: 'aa', action: 'consent.approved', detail: { caregiver: 'bb', invitation: 3 } }).what,
    'approved Päiväkoti as a daycare or school member');
  assert.deepEqual(say({ actor: null, actor_ref: 'system', action: 'member.expired', detail: { member: 'bb', invitation: 3 } }),
    { who: 'the service', what: 'ended Päiväkoti’s access at its end date' });
});

test('ranges are counted, and a malformed one is not', () => {
  assert.equal(countRanges('1-3,5,8-9'), 6);
  assert.equal(countRanges('7'), 1);
  for (const bad of ['', '3-1', '1,,2', 'x', null, 5]) assert.equal(countRanges(bad), null, String(bad));
});

test('the CSV quotes what needs it and keeps formulas as text', () => {
  const items = [{ at: '2026-12-07T10:00:00.000+00:00', actor: 'dd', actor_ref: 'account:dd', action: 'entry.posted', seq: 3, hash: 'h' }];
  const csv = accessCsv(items, () => ({ who: '=HYPERLINK("x")', what: 'wrote, twice' }));
  const [header, row] = csv.split('\r\n');
  assert.equal(header, 'at,who,action,what,actor_id,chain_seq,hash');
  assert.equal(row, `2026-12-07T10:00:00.000+00:00,"'=HYPERLINK(""x"")",entry.posted,"wrote, twice",dd,3,h`);
});
