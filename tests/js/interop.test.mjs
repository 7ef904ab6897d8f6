// Interop with the Python implementation (src/secure_msg/crypto) both ways, through
// tests/js/interop_helper.py run by the project's .venv: Python seals → JS verifies and opens,
// JS seals an entry and a history grant → Python verifies and opens them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  AccountKeys, KIND, KeyBundle, encodePayload, entryHash, fromHex, openEntry, randomBytes, sealEntry, sealGrant,
  toHex, verifyEntry, verifyKeyStatement,
} from '../../src/secure_msg/web/static/crypto/index.mjs';
import { repoRoot } from './helpers.mjs';

const python = path.join(repoRoot, '.venv', 'bin', 'python');
const helper = path.join(repoRoot, 'tests', 'js', 'interop_helper.py');
const BOOKLET = fromHex('b0'.repeat(16));

/** Run one helper command; any failure fails the test with Python's own message. */
function py(request) {
  assert.ok(existsSync(python), `interop needs the project's Python at ${python}: run \`make install\` first`);
  const run = spawnSync(python, [helper], { input: JSON.stringify(request), encoding: 'utf8', cwd: repoRoot, timeout: 60_000 });
  assert.equal(run.status, 0, `interop_helper.py ${request.command} failed:\n${run.stderr}${run.error ?? ''}`);
  return JSON.parse(run.stdout);
}

test('Python seals → JS verifies and opens; JS seals an entry and a grant → Python verifies and opens', async () => {
  const me = await AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)));
  const jsStatement = toHex(await me.statement(Date.now()));

  const fromPy = py({ command: 'seal', js_statement: jsStatement });
  const pyStatement = await verifyKeyStatement(fromHex(fromPy.py_statement), { accountId: fromHex(fromPy.py_account_id) });
  const recipients = [
    { accountId: me.accountId, encryptionKey: me.encryptionPublic },
    { accountId: pyStatement.accountId, encryptionKey: pyStatement.encryptionKey },
  ];
  const pyEnvelope = fromHex(fromPy.envelope);
  const verified = await verifyEntry(pyEnvelope, { authorIdentityKey: pyStatement.identityKey, bookletId: BOOKLET, authorId: pyStatement.accountId, recipients });
  assert.equal(toHex(verified.entryHash), fromPy.entry_hash);
  const opened = await openEntry(pyEnvelope, { authorIdentityKey: pyStatement.identityKey, authorId: pyStatement.accountId, bookletId: BOOKLET, me });
  assert.equal(opened.payload.text, 'Python → JS: hyvää päivää 👋');

  const text = 'JS → Python: hej och välkommen 🌱';
  const jsEnvelope = await sealEntry(me, {
    bookletId: BOOKLET, entryId: randomBytes(16), kind: KIND.note, sequence: 2, prevHash: verified.entryHash,
    createdAt: Date.now(), plaintext: encodePayload(KIND.note, { text }), recipients,
  });
  const grant = await sealGrant(me, {
    bookletId: BOOKLET, granteeId: pyStatement.accountId, granteeEk: pyStatement.encryptionKey, createdAt: Date.now(),
    keys: [{ entryId: opened.header.entryId, entryHash: opened.entryHash, contentKey: opened.contentKey }],
  });
  const fromJs = py({
    command: 'open', js_statement: jsStatement, envelope: toHex(jsEnvelope), grant: toHex(grant), py_envelope: fromPy.envelope,
    py_account_id: fromPy.py_account_id, py_identity_seed: fromPy.py_identity_seed, py_encryption_secret: fromPy.py_encryption_secret,
  });
  assert.equal(JSON.parse(new TextDecoder().decode(fromHex(fromJs.plaintext))).text, text);
  assert.equal(fromJs.entry_hash, toHex(await entryHash(jsEnvelope)));
  assert.deepEqual(fromHex(fromJs.granted_plaintext), opened.plaintext);
});
