// The file blob API of crypto/file-stream.mjs beyond the vectors: how the encryptor and the
// decryptor are driven and what they refuse (the Python twin: tests/crypto/test_file_stream.py).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileDecryptor, FileEncryptor, blobLength, decryptFile, encryptFile } from '../../src/secure_msg/web/static/crypto/file-stream.mjs';
import { scriptedRng } from './helpers.mjs';

const BOOKLET = new Uint8Array(16).fill(0xb0);
const isCode = (code) => (e) => e.code === code;

test('the key and the file id are drawn in that order', async () => {
  const key = new Uint8Array(32).fill(7);
  const id = new Uint8Array(16).fill(9);
  const rng = scriptedRng(key, id);
  const enc = await FileEncryptor.create(BOOKLET, { rng });
  assert.deepEqual([enc.fileKey, enc.fileId], [key, id]);
  assert.equal(rng.remaining(), 0);
});

test('the header comes first and a full chunk waits for what follows', async () => {
  const enc = await FileEncryptor.create(BOOKLET, { chunkSize: 64 });
  assert.deepEqual(await enc.update(new Uint8Array(0)), enc.header);
  assert.equal((await enc.update(new Uint8Array(64))).length, 0);
  assert.equal((await enc.update(new Uint8Array(1))).length, 64 + 16);
  assert.equal((await enc.finish()).length, 1 + 16);
  assert.equal(enc.size, 65);
  await assert.rejects(enc.update(new Uint8Array(1)), /finished/);
});

test('an empty file is its header and one empty final chunk', async () => {
  const f = await encryptFile(new Uint8Array(0), BOOKLET);
  assert.equal(f.blob.length, blobLength(0));
  assert.equal(f.blob.length, 56);
  assert.deepEqual(await decryptFile(f.blob, { ...f, bookletId: BOOKLET }), new Uint8Array(0));
});

test('writers and readers refuse chunk sizes, keys, ids, sizes and hashes of the wrong form', async () => {
  for (const chunkSize of [0, 32, 63, 65, 100, 2 ** 21]) {
    await assert.rejects(FileEncryptor.create(BOOKLET, { chunkSize }), /chunk size/);
  }
  const ok = { fileKey: new Uint8Array(32), bookletId: BOOKLET, fileId: new Uint8Array(16), size: 0, sha256: new Uint8Array(32) };
  await FileDecryptor.create(ok);
  for (const bad of [{ fileKey: new Uint8Array(31) }, { fileId: new Uint8Array(15) }, { size: -1 }, { size: 1.5 }, { size: 2 ** 53 }, { sha256: new Uint8Array(31) }]) {
    await assert.rejects(FileDecryptor.create({ ...ok, ...bad }), isCode('malformed'), JSON.stringify(bad));
  }
});

test('a reader hands on authentic chunks, stops at the first error and keeps failing', async () => {
  const plaintext = new Uint8Array(300).fill(0x78);
  const f = await encryptFile(plaintext, BOOKLET, { chunkSize: 64 });
  const damaged = f.blob.slice();
  damaged[40 + 80 + 3] ^= 1; // chunk 1
  const dec = await FileDecryptor.create({ ...f, bookletId: BOOKLET });
  assert.deepEqual(await dec.update(damaged.subarray(0, 150)), plaintext.subarray(0, 64));
  await assert.rejects(dec.update(damaged.subarray(150)), isCode('file-chunk-invalid'));
  await assert.rejects(dec.update(new Uint8Array(0)), isCode('file-chunk-invalid'));
  await assert.rejects(dec.finish(), isCode('file-chunk-invalid'));
});

test('the last plaintext comes before the hash check', async () => {
  const f = await encryptFile(new Uint8Array(100).fill(0x79), BOOKLET, { chunkSize: 64 });
  const dec = await FileDecryptor.create({ ...f, bookletId: BOOKLET, sha256: new Uint8Array(32) });
  assert.equal((await dec.update(f.blob)).length, 100);
  await assert.rejects(dec.finish(), isCode('file-hash-mismatch'));
});
