// tests/vectors/file-v1.json (written by tools/gen_file_vectors.py) in the browser code: file
// blobs (docs/protocol.md §4.7), the document payload's attachments (§4.5), file names and media
// types. Every blob is fed whole, byte by byte and in pieces, as the Python test does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KIND, decodePayload, encodePayload, fromHex, mediaTypeForName, mediaTypePolicy, sanitiseFilename, toHex,
} from '../../src/secure_msg/web/static/crypto/index.mjs';
import {
  FileDecryptor, FileEncryptor, blobLength, chunkKeyBytes, parseFileHeader, plaintextLength,
} from '../../src/secure_msg/web/static/crypto/file-stream.mjs';
import { readJson } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'file-v1.json');

const expectedOf = (c) => ({ fileKey: fromHex(c.file_key), bookletId: fromHex(c.booklet_id), fileId: fromHex(c.file_id), size: c.size, sha256: fromHex(c.sha256) });

/** The whole blob, byte by byte, and in pieces of 7 and 100 bytes. @param {Uint8Array} blob */
function splits(blob) {
  const by = (n) => Array.from({ length: Math.ceil(blob.length / n) }, (_, i) => blob.subarray(i * n, (i + 1) * n));
  return [[blob], by(1), by(7), by(100)];
}

/** Decrypt `pieces` to the end: the plaintext, or the ProtocolError's code. */
async function run(expected, pieces) {
  const dec = await FileDecryptor.create(expected);
  const out = [];
  try {
    for (const p of pieces) out.push(...(await dec.update(p)));
    await dec.finish();
  } catch (e) {
    if (!e.code) throw e;
    // A failed reader keeps failing with the same code.
    await assert.rejects(dec.finish(), (again) => again.code === e.code);
    return { error: e.code };
  }
  return { plaintext: Uint8Array.from(out) };
}

test('the file vectors are v1, suite 1', () => {
  assert.equal(V.version, 1);
  assert.equal(V.suite, 1);
  assert.ok(V.blobs.length >= 8 && V.negative.length >= 30);
});

for (const c of V.blobs) {
  test(`file blob ${c.name}: written and read as the vector`, async () => {
    const plaintext = fromHex(c.plaintext);
    const blob = fromHex(c.blob);
    assert.equal(toHex(await chunkKeyBytes(fromHex(c.file_key), fromHex(c.booklet_id), fromHex(c.file_id))), c.chunk_key);
    const enc = await FileEncryptor.create(fromHex(c.booklet_id), { fileKey: fromHex(c.file_key), fileId: fromHex(c.file_id), chunkSize: c.chunk_size });
    const parts = [];
    for (let i = 0; i < plaintext.length; i += 50) parts.push(await enc.update(plaintext.subarray(i, i + 50)));
    parts.push(await enc.finish());
    assert.equal(parts.map(toHex).join(''), c.blob);
    assert.equal(enc.size, c.size);
    assert.equal(toHex(enc.sha256), c.sha256);
    assert.equal(toHex(enc.header), c.header);
    for (const pieces of splits(blob)) {
      const got = await run(expectedOf(c), pieces);
      assert.deepEqual(got, { plaintext });
    }
    const h = parseFileHeader(blob);
    assert.deepEqual([toHex(h.bookletId), toHex(h.fileId), h.chunkSize], [c.booklet_id, c.file_id, c.chunk_size]);
    assert.equal(blob.length, c.blob_length);
    assert.equal(blobLength(c.size, c.chunk_size), c.blob_length);
    assert.equal(plaintextLength(blob.length, c.chunk_size), c.size);
  });
}

for (const c of V.negative) {
  test(`file blob refused: ${c.name} → ${c.error}`, async () => {
    for (const pieces of splits(fromHex(c.blob))) {
      assert.deepEqual(await run(expectedOf(c), pieces), { error: c.error });
    }
  });
}

for (const c of V.payloads) {
  test(`document payload: ${c.name}`, () => {
    const plaintext = fromHex(c.plaintext);
    if (c.error) {
      assert.throws(() => decodePayload(c.kind_id, plaintext), (e) => e.code === c.error);
      return;
    }
    const payload = decodePayload(c.kind_id, plaintext);
    assert.deepEqual(payload, c.payload);
    const { kind: _, ...fields } = payload;
    assert.deepEqual(decodePayload(KIND.document, encodePayload(KIND.document, fields)), payload);
  });
}

test('file names are sanitised as the vectors say, and stay so', () => {
  for (const [name, expected] of V.filenames) {
    assert.equal(sanitiseFilename(name), expected, JSON.stringify(name));
    assert.equal(sanitiseFilename(expected), expected);
  }
});

test('media types: inline images, downloads, and everything else refused', () => {
  for (const [mediaType, policy] of V.media_types) assert.equal(mediaTypePolicy(mediaType), policy, JSON.stringify(mediaType));
  for (const [name, mediaType] of V.names_to_types) assert.equal(mediaTypeForName(name), mediaType, name);
});

test('blob lengths: the file size each holds, or none', () => {
  for (const [blobLen, chunkSize, size] of V.lengths) {
    assert.equal(plaintextLength(blobLen, chunkSize), size, `${blobLen}/${chunkSize}`);
    if (size !== null) assert.equal(blobLength(size, chunkSize), blobLen);
  }
});
