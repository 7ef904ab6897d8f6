// tests/vectors/share-v1.json (written by tools/gen_share_vectors.py) in the browser code:
// the share of docs/protocol.md §4.8, as the recipient's page opens it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHex, toHex } from '../../src/secure_msg/web/static/crypto/encoding.mjs';
import {
  checkCode, deriveShareKeys, encodeRecord, newCode, openSealedShare, parseFragment, parseSealedShare, sealShare, shareLink,
} from '../../src/secure_msg/web/static/crypto/share.mjs';
import { readJson } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'share-v1.json');

for (const c of V.shares) {
  test(`share ${c.record.name}`, async () => {
    const sid = fromHex(c.share_id);
    const secret = fromHex(c.link_secret);
    const keys = await deriveShareKeys(sid, secret, c.code);
    assert.deepEqual([toHex(keys.key), toHex(keys.token), toHex(keys.verifier)], [c.key, c.token, c.verifier]);
    const opened = await openSealedShare(keys, sid, fromHex(c.sealed));
    assert.equal(toHex(opened.bookletId), c.record.booklet_id);
    assert.equal(opened.attachment.name, c.record.name);
    assert.equal(toHex(encodeRecord(opened)), c.plaintext);
    assert.equal(toHex(await sealShare(keys, sid, opened, fromHex(c.nonce))), c.sealed);
    assert.equal(toHex(parseSealedShare(fromHex(c.sealed))), c.share_id);
    const parsed = parseFragment(`#${c.fragment}`);
    assert.deepEqual([toHex(parsed.shareId), toHex(parsed.linkSecret)], [c.share_id, c.link_secret]);
    assert.equal(shareLink('https://x.test/', sid, secret), `https://x.test/share/#${c.fragment}`);
  });
}

for (const c of V.negative) {
  test(`share negative: ${c.name}`, async () => {
    const base = V.shares[0];
    const sid = fromHex(base.share_id);
    await assert.rejects(async () => {
      const keys = await deriveShareKeys(sid, fromHex(base.link_secret), c.code);
      await openSealedShare(keys, sid, fromHex(c.sealed));
    }, (e) => e.code === c.error);
  });
}

test('share codes as typed', () => {
  for (const c of V.codes_typed) assert.equal(checkCode(c.typed), c.code);
});

test('share fragments refused', () => {
  for (const f of V.fragments_bad) assert.throws(() => parseFragment(f), (e) => e.code === 'share-link-malformed');
});

test('share code draws', () => {
  for (const c of V.code_draws) {
    const buf = [...fromHex(c.bytes)];
    assert.equal(newCode((n) => Uint8Array.from(buf.splice(0, n))), c.code);
  }
});
