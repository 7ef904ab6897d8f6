// File blobs between the implementations (docs/protocol.md §4.7), through
// tests/js/file_interop_helper.py run by the project's .venv: Python encrypts a file of several
// chunks and seals a document entry naming it → JS opens the entry and decrypts the file; JS does
// the same → Python opens and decrypts. The file key travels only inside the sealed entry.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  AccountKeys, KIND, KeyBundle, encodePayload, fromHex, openEntry, randomBytes,
  sanitiseFilename, sealEntry, toHex, verifyKeyStatement,
} from '../../src/secure_msg/web/static/crypto/index.mjs';
import { FileDecryptor, FileEncryptor } from '../../src/secure_msg/web/static/crypto/file-stream.mjs';
import { repoRoot } from './helpers.mjs';

const python = path.join(repoRoot, '.venv', 'bin', 'python');
const helper = path.join(repoRoot, 'tests', 'js', 'file_interop_helper.py');
const BOOKLET = fromHex('b0'.repeat(16));
const SIZE = 200_000; // four chunks of 64 KiB, the last short

/** `n` random bytes (getRandomValues gives at most 65 536 at a time). @param {number} n */
function randomFile(n) {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) out.set(randomBytes(Math.min(65536, n - at)), at);
  return out;
}

function py(request) {
  assert.ok(existsSync(python), `interop needs the project's Python at ${python}: run \`make install\` first`);
  const run = spawnSync(python, [helper], { input: JSON.stringify(request), encoding: 'utf8', cwd: repoRoot, timeout: 60_000, maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, `file_interop_helper.py ${request.command} failed:\n${run.stderr}${run.error ?? ''}`);
  return JSON.parse(run.stdout);
}

test('a file encrypted by Python opens in JS, and one encrypted by JS opens in Python', async () => {
  const me = await AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)));
  const jsStatement = toHex(await me.statement(Date.now()));

  // Python → JS
  const fromPy = py({ command: 'seal', js_statement: jsStatement, size: SIZE });
  const pyStatement = await verifyKeyStatement(fromHex(fromPy.py_statement), { accountId: fromHex(fromPy.py_account_id) });
  const opened = await openEntry(fromHex(fromPy.envelope), { authorIdentityKey: pyStatement.identityKey, authorId: pyStatement.accountId, bookletId: BOOKLET, me });
  assert.equal(opened.payload.text, 'Python → JS');
  const [att] = /** @type {any[]} */ (opened.payload.attachments);
  assert.equal(att.size, SIZE);
  assert.equal(att.sha256, fromPy.plaintext_sha256);
  assert.equal(sanitiseFilename(att.name), 'Lausunto fdp.exe lääkärille.pdf');
  const dec = await FileDecryptor.create({ fileKey: fromHex(att.key), bookletId: BOOKLET, fileId: fromHex(att.file_id), size: att.size, sha256: fromHex(att.sha256) });
  const blob = fromHex(fromPy.blob);
  const parts = [];
  for (let i = 0; i < blob.length; i += 3000) parts.push(await dec.update(blob.subarray(i, i + 3000)));
  await dec.finish();
  assert.equal(parts.map(toHex).join(''), fromPy.plaintext);

  // JS → Python: two files, one of them empty
  const files = [{ name: 'kuva.jpg', type: 'image/jpeg', data: randomFile(SIZE) }, { name: 'tyhjä.txt', type: 'text/plain', data: new Uint8Array(0) }];
  const attachments = [];
  const blobs = [];
  for (const [i, f] of files.entries()) {
    const enc = await FileEncryptor.create(BOOKLET);
    const out = [];
    for (let at = 0; at < f.data.length; at += 70_000) out.push(await enc.update(f.data.subarray(at, at + 70_000)));
    out.push(await enc.finish());
    blobs.push(out.map(toHex).join(''));
    attachments.push({ blob_id: `js-blob-${i}`, file_id: toHex(enc.fileId), key: toHex(enc.fileKey), name: f.name, media_type: f.type, size: enc.size, sha256: toHex(enc.sha256) });
  }
  const recipients = [
    { accountId: me.accountId, encryptionKey: me.encryptionPublic },
    { accountId: pyStatement.accountId, encryptionKey: pyStatement.encryptionKey },
  ];
  const envelope = await sealEntry(me, {
    bookletId: BOOKLET, entryId: randomBytes(16), kind: KIND.document, sequence: 2, prevHash: opened.entryHash,
    createdAt: Date.now(), plaintext: encodePayload(KIND.document, { attachments, text: 'JS → Python' }), recipients,
  });
  const fromJs = py({
    command: 'open', js_statement: jsStatement, envelope: toHex(envelope), blobs,
    py_account_id: fromPy.py_account_id, py_identity_seed: fromPy.py_identity_seed, py_encryption_secret: fromPy.py_encryption_secret,
  });
  assert.equal(fromJs.text, 'JS → Python');
  assert.deepEqual(fromJs.files.map((f) => [f.blob_id, f.name, f.media_type]), [['js-blob-0', 'kuva.jpg', 'image/jpeg'], ['js-blob-1', 'tyhjä.txt', 'text/plain']]);
  assert.equal(fromJs.files[0].plaintext, toHex(files[0].data));
  assert.equal(fromJs.files[1].plaintext, '');
});
