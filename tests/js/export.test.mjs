// The export archive in the browser's code (docs/export.md) against tests/vectors/export-v1.json:
// CRC-32 and the canonical stored zip byte for byte (app/zip.mjs), the manifest signature under
// its label, and the printable page (app/export-html.mjs) character for character.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHex, toHex } from '../../src/secure_msg/web/static/crypto/encoding.mjs';
import { LABEL } from '../../src/secure_msg/web/static/crypto/labels.mjs';
import { importPrivate, sign, verify } from '../../src/secure_msg/web/static/crypto/primitives.mjs';
import { crc32, writeZip } from '../../src/secure_msg/web/static/app/zip.mjs';
import { esc, renderExportHtml } from '../../src/secure_msg/web/static/app/export-html.mjs';
import { readJson } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'export-v1.json');

test('CRC-32', () => {
  for (const c of V.crc32) assert.equal(crc32(fromHex(c.data)), c.crc32);
});

test('the canonical stored zip, byte for byte', () => {
  for (const c of V.zips) {
    const zip = writeZip(c.members.map((m) => [m.name, fromHex(m.data)]));
    assert.equal(toHex(zip), c.zip, c.name);
  }
});

test('the manifest signature: verified, and one made here verifies', async () => {
  const s = V.manifest_signature;
  const manifest = fromHex(s.manifest);
  await verify(fromHex(s.identity_key), fromHex(s.signature), LABEL.EXPORT_MANIFEST, manifest);
  const key = await importPrivate('Ed25519', fromHex(s.identity_seed));
  const mine = await sign(key.privateKey, LABEL.EXPORT_MANIFEST, manifest);
  await verify(fromHex(s.identity_key), mine, LABEL.EXPORT_MANIFEST, manifest);
  await assert.rejects(verify(fromHex(s.identity_key), mine, LABEL.ENTRY_SIGNATURE, manifest), { code: 'bad-signature' });
});

test('the page, as the Python client renders it', () => {
  for (const c of V.html) assert.equal(renderExportHtml(c.doc), c.html, c.name);
});

test('escaping is Python html.escape(quote=True)', () => {
  assert.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;');
  assert.equal(esc(null), '');
  assert.equal(esc(3), '3');
});
