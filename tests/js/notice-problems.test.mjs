// The therapist's list of notices to check (app/views/notice-problems.mjs): every status the
// server reports there (model/notices.py VISIBLE_PROBLEMS) and every kind has its text in fi,
// sv and en, and a line says the state in words.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.mjs';

const appDir = '../../src/secure_msg/web/static/app';
globalThis.navigator ??= { language: 'en' }; // i18n.mjs reads it at import (Node 20 has none)
const { PROBLEM_KINDS, PROBLEM_STATUSES, describeProblem, retriedText } = await import(`${appDir}/views/notice-problems.mjs`);
// Each language in two parts (app/i18n.mjs): what the login screen says, and the rest.
const part = async (code, name) => (await import(`${appDir}/${name}`))[code];
const tables = Object.fromEntries(await Promise.all(['fi', 'sv', 'en'].map(async (code) => [code, {
  ...(await part(code, `lang-${code}-start.mjs`)), ...(await part(code, `lang-${code}.mjs`)),
}])));

test('the statuses are the ones the server shows therapists', () => {
  const model = readFileSync(path.join(repoRoot, 'src', 'secure_msg', 'model', 'notices.py'), 'utf8');
  const visible = model.match(/VISIBLE_PROBLEMS = \(([^)]*)\)/s)[1];
  const names = [...visible.matchAll(/NoticeStatus\.(\w+)/g)].map((m) => m[1].toLowerCase());
  assert.deepEqual([...PROBLEM_STATUSES].sort(), names.sort());
});

test('every status and kind has a text in each language', () => {
  for (const [code, table] of Object.entries(tables)) {
    for (const s of PROBLEM_STATUSES) assert.ok(table[`notice_status_${s}`], `${code} ${s}`);
    for (const k of PROBLEM_KINDS) assert.ok(table[`notice_kind_${k}`], `${code} ${k}`);
  }
});

test('a problem reads as its state, kind and time; unknown values show as they are', () => {
  const tr = (key, vars = {}) => tables.en[key].replace(/\{(\w+)\}/g, (_, n) => String(vars[n]));
  const at = '2026-03-10T12:00:00Z';
  const line = describeProblem({ status: 'duplicate_suspected', kind: 'reminder', updated_at: at }, tr);
  assert.match(line, /^May have arrived twice: reminder, /);
  assert.match(describeProblem({ status: 'later', kind: 'other', updated_at: at }, tr), /^later: other, /);
});

test('a retry held back by quiet hours says when it goes; one going now says so plainly', () => {
  const now = Date.parse('2026-03-10T23:00:00Z');
  for (const [code, table] of Object.entries(tables)) {
    const tr = (key, vars = {}) => table[key].replace(/\{(\w+)\}/g, (_, n) => String(vars[n]));
    assert.equal(retriedText({ id: 1, status: 'queued', send_after_ms: now }, now, tr), table.notice_retried, code);
    assert.equal(retriedText({ id: 1, status: 'queued' }, now, tr), table.notice_retried, code);
    const later = retriedText({ id: 1, status: 'queued', send_after_ms: now + 7 * 3_600_000 }, now, tr);
    assert.notEqual(later, table.notice_retried, code);
    assert.ok(!later.includes('{when}') && /\d/.test(later), `${code}: ${later}`);
  }
});
