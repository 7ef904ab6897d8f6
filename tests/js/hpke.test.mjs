// RFC 9180 vectors, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHex, toHex } from '../../src/secure_msg/web/static/crypto/encoding.mjs';
import { ProtocolError } from '../../src/secure_msg/web/static/crypto/errors.mjs';
import { openBase, sealBase, setupBaseR, setupBaseS } from '../../src/secure_msg/web/static/crypto/hpke.mjs';
import { importPrivate } from '../../src/secure_msg/web/static/crypto/primitives.mjs';
import { scriptedRng, standardVectors } from './helpers.mjs';

const vectors = standardVectors('rfc9180-hpke-x25519.json').filter(
  (v) => v.mode === 0 && v.kem_id === 0x20 && v.kdf_id === 1 && v.aead_id === 2,
);

test('the RFC 9180 file has base-mode AES-256-GCM entries', () => {
  assert.ok(vectors.length >= 1);
});

for (const [i, v] of vectors.entries()) {
  test(`RFC 9180 base-mode vector ${i}: sender, every encryption and export`, async () => {
    const { enc, context } = await setupBaseS(fromHex(v.pkRm), fromHex(v.info), scriptedRng(fromHex(v.skEm)));
    assert.equal(toHex(enc), v.enc);
    assert.equal(toHex(context.key), v.key);
    assert.equal(toHex(context.baseNonce), v.base_nonce);
    assert.equal(toHex(context.exporterSecret), v.exporter_secret);
    for (const e of v.encryptions) {
      assert.equal(toHex(await context.seal(fromHex(e.aad), fromHex(e.pt))), e.ct);
    }
    for (const x of v.exports) {
      assert.equal(toHex(await context.export(fromHex(x.exporter_context), x.L)), x.exported_value);
    }
  });

  test(`RFC 9180 base-mode vector ${i}: receiver, every decryption and export`, async () => {
    const recipient = await importPrivate('X25519', fromHex(v.skRm));
    assert.equal(toHex(recipient.publicKey), v.pkRm);
    const context = await setupBaseR(fromHex(v.enc), recipient, fromHex(v.info));
    for (const e of v.encryptions) {
      assert.equal(toHex(await context.open(fromHex(e.aad), fromHex(e.ct))), e.pt);
    }
    for (const x of v.exports) {
      assert.equal(toHex(await context.export(fromHex(x.exporter_context), x.L)), x.exported_value);
    }
  });
}

test('single-shot seal/open round trip; tampering and low-order keys are typed errors', async () => {
  const recipient = await importPrivate('X25519', new Uint8Array(32).fill(3));
  const info = fromHex('0102');
  const { enc, ciphertext } = await sealBase(recipient.publicKey, info, new Uint8Array(0), fromHex('abcd'));
  assert.equal(toHex(await openBase(enc, recipient, info, new Uint8Array(0), ciphertext)), 'abcd');
  ciphertext[0] ^= 1;
  await assert.rejects(openBase(enc, recipient, info, new Uint8Array(0), ciphertext), { code: 'unwrap-failed' });
  await assert.rejects(openBase(new Uint8Array(32), recipient, info, new Uint8Array(0), ciphertext), { code: 'unwrap-failed' });
  await assert.rejects(sealBase(new Uint8Array(32), info, new Uint8Array(0), fromHex('00')), (e) => e instanceof ProtocolError && e.code === 'invalid-key');
  await assert.rejects(sealBase(new Uint8Array(31), info, new Uint8Array(0), fromHex('00')), { code: 'invalid-key' });
});
