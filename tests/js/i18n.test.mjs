// The inbox's three languages: every text in each, with the same {slots}, so no screen falls back
// to showing a key or drops a number (a missing-entries range, say) in one language.
import assert from 'node:assert/strict';
import { test } from 'node:test';

const appDir = '../../src/secure_msg/web/static/app';
// Each language in two parts (app/i18n.mjs): what the login screen says, and the rest.
const part = async (code, name) => (await import(`${appDir}/${name}`))[code];
const tables = Object.fromEntries(await Promise.all(['fi', 'sv', 'en'].map(async (code) => [code, {
  ...(await part(code, `lang-${code}-start.mjs`)), ...(await part(code, `lang-${code}.mjs`)),
}])));
const starts = Object.fromEntries(await Promise.all(['fi', 'sv', 'en'].map(async (code) => [code, await part(code, `lang-${code}-start.mjs`)])));
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

// Every key the code asks for by name exists, and every key it builds from a value (a role, an
// appointment status) exists for each value the server can send: else the screen shows the raw
// key, as `role_admin` once did on an admin's enrollment form.
const { readdirSync, readFileSync } = await import('node:fs');
const { repoRoot } = await import('./helpers.mjs');
const path = await import('node:path');
const appPath = path.join(repoRoot, 'src', 'secure_msg', 'web', 'static', 'app');
const sources = [...readdirSync(appPath).map((f) => path.join(appPath, f)), ...readdirSync(path.join(appPath, 'views')).map((f) => path.join(appPath, 'views', f))]
  .filter((f) => f.endsWith('.mjs') && !path.basename(f).startsWith('lang-'))
  .map((f) => [path.basename(f), readFileSync(f, 'utf8')]);
/** The values of a Python StrEnum in src/secure_msg/model. */
const enumValues = (file, cls) => {
  const text = readFileSync(path.join(repoRoot, 'src', 'secure_msg', 'model', file), 'utf8');
  const body = text.slice(text.indexOf(`class ${cls}(`)).split('\n\n')[0];
  return [...body.matchAll(/^\s+[A-Z_]+ = "([a-z_]+)"/gm)].map((m) => m[1]);
};

test('every key named in the code is in the tables', () => {
  const named = new Set();
  for (const [, text] of sources) {
    for (const m of text.matchAll(/\bt\('([a-z0-9_]+)'/g)) named.add(m[1]);
  }
  assert.ok(named.size > 100, `found ${named.size} keys`);
  for (const key of named) assert.ok(key in tables.en, `t('${key}') has no text`);
});

test('keys built from a role or an appointment status exist for every value', () => {
  const roles = enumValues('roles.py', 'Role');
  const statuses = enumValues('appointments.py', 'AppointmentStatus');
  assert.deepEqual(roles.sort(), ['admin', 'caregiver', 'guardian', 'therapist']);
  assert.ok(statuses.includes('no_show'));
  for (const code of ['fi', 'sv', 'en']) {
    for (const r of roles) assert.ok(`role_${r}` in tables[code], `${code}: role_${r}`);
    for (const s of statuses) assert.ok(`appt_${s}` in tables[code], `${code}: appt_${s}`);
  }
});

// The login screen loads only lang-xx-start.mjs: every text the modules of the first load name
// must be there (else the login screen shows a key), and no text is in both parts.
test('the login screen finds every text it names in the start part', () => {
  const firstLoad = ['main.mjs', 'auth.mjs', 'common.mjs', 'api.mjs', 'session.mjs', 'dom.mjs', 'i18n.mjs', 'routes.mjs'];
  const named = new Set();
  for (const [name, text] of sources) {
    if (!firstLoad.includes(name)) continue;
    for (const m of text.matchAll(/\bt\('([a-z0-9_]+)'/g)) named.add(m[1]);
    for (const m of text.matchAll(/'((?:ended|err)_[a-z0-9_]+)'/g)) named.add(m[1]);
  }
  assert.ok(named.has('login') && named.has('err_session'), [...named].join(' '));
  for (const code of ['fi', 'sv', 'en']) {
    for (const key of named) assert.ok(key in starts[code], `${code}: ${key} is not in lang-${code}-start.mjs`);
  }
});

test('no text is in both parts of a language', async () => {
  for (const code of ['fi', 'sv', 'en']) {
    const rest = await part(code, `lang-${code}.mjs`);
    const both = Object.keys(starts[code]).filter((key) => key in rest);
    assert.deepEqual(both, [], code);
  }
});
