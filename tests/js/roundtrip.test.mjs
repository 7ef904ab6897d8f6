// Round trips and tampering: seal → verify/open for 1..8 recipients and plaintexts up to 64 KiB;
// every single-bit flip, every truncation, trailing data, wrong recipient and wrong key rejected
// with a ProtocolError (never a bare exception).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AccountKeys, KIND, KeyBundle, encodePayload, entryHash, openEntry, openEntryWithKey, openGrant, parseEntry,
  parseGrant, parseKeyStatement, parseQrPayload, randomBytes, sealEntry, sealGrant, verifyEntry, verifyGrant,
} from '../../src/secure_msg/web/static/crypto/index.mjs';
import { LABEL, TYPE } from '../../src/secure_msg/web/static/crypto/labels.mjs';
import { sha256 } from '../../src/secure_msg/web/static/crypto/primitives.mjs';

const BOOKLET = randomBytes(16);
const members = await Promise.all(Array.from({ length: 9 }, () => AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)))));
const asRecipient = (k) => ({ accountId: k.accountId, encryptionKey: k.encryptionPublic });
/** What a reader knows of an entry it is shown: its author's pinned IK and id, and the booklet. */
const from = (author) => ({ authorIdentityKey: author.identityPublic, authorId: author.accountId, bookletId: BOOKLET });

/** Assert `promise` rejects with a ProtocolError (any code unless one is given). */
async function rejectsProtocol(promise, code, what = '') {
  await assert.rejects(promise, (e) => {
    assert.equal(e?.name, 'ProtocolError', `${what}: expected a ProtocolError, got ${e?.stack ?? e}`);
    if (code) assert.equal(e.code, code, what);
    return true;
  });
}

async function seal(author, recipients, text = 'hello', extra = {}) {
  return sealEntry(author, {
    bookletId: BOOKLET, entryId: randomBytes(16), kind: KIND.note, sequence: 1, prevHash: new Uint8Array(32),
    createdAt: Date.now(), plaintext: encodePayload(KIND.note, { text }), recipients: recipients.map(asRecipient), ...extra,
  });
}

const expectFor = (author, recipients) => ({
  authorIdentityKey: author.identityPublic, bookletId: BOOKLET, authorId: author.accountId, recipients: recipients.map(asRecipient),
});

for (let n = 1; n <= 8; n++) {
  test(`seal → verify → open with ${n} recipient(s), texts of 0 to 64 KiB`, async () => {
    const [author, ...others] = members;
    const recipients = [author, ...others.slice(0, n - 1)];
    for (const size of [0, 1, 15, 16, 17, 1000, 4096, 65536]) {
      const text = 'ä'.repeat(size >> 1) + 'x'.repeat(size & 1); // multi-byte UTF-8, exactly `size` bytes
      const env = await seal(author, recipients, text);
      const parsed = parseEntry(env);
      assert.equal(parsed.type, TYPE.ENTRY);
      assert.equal(parsed.headerBytes.length, 145);
      const verified = await verifyEntry(env, expectFor(author, recipients));
      assert.deepEqual(verified.entryHash, await entryHash(env));
      for (const me of recipients) {
        const opened = await openEntry(env, { ...from(author), me });
        assert.equal(opened.payload.text, text);
        assert.equal(opened.plaintext.length, size + 25); // + {"kind":"note","text":""}
        assert.deepEqual(parsed.header.keyCommitment, await sha256(LABEL.ENTRY_KEY_COMMITMENT, opened.contentKey));
      }
      await rejectsProtocol(openEntry(env, { ...from(author), me: members[8] }), 'not-a-recipient');
    }
  });
}

test('every single-bit flip of an envelope is rejected by both verify and open', async () => {
  const [author, other] = members;
  const env = await seal(author, [author, other], 'bit flips');
  const expect = expectFor(author, [author, other]);
  for (let bit = 0; bit < env.length * 8; bit++) {
    const bad = env.slice();
    bad[bit >> 3] ^= 1 << (bit & 7);
    await rejectsProtocol(verifyEntry(bad, expect), undefined, `verify, bit ${bit}`);
    await rejectsProtocol(openEntry(bad, { ...from(author), me: other }), undefined, `open, bit ${bit}`);
  }
});

test('every truncation is `truncated`; trailing bytes are `trailing-data`', async () => {
  const [author, other] = members;
  const env = await seal(author, [author, other]);
  const expect = expectFor(author, [author, other]);
  for (let len = 0; len < env.length; len++) {
    await rejectsProtocol(verifyEntry(env.subarray(0, len), expect), 'truncated', `length ${len}`);
  }
  for (const extra of [Uint8Array.of(0), randomBytes(64)]) {
    const long = new Uint8Array(env.length + extra.length);
    long.set(env);
    long.set(extra, env.length);
    await rejectsProtocol(verifyEntry(long, expect), 'trailing-data');
    await rejectsProtocol(openEntry(long, { ...from(author), me: other }), 'trailing-data');
  }
});

test('wrong signer, author, booklet, recipient set, key', async () => {
  const [author, a, b, stranger] = members;
  const env = await seal(author, [author, a]);
  const expect = expectFor(author, [author, a]);
  await rejectsProtocol(verifyEntry(env, { ...expect, authorIdentityKey: a.identityPublic }), 'bad-signature');
  await rejectsProtocol(verifyEntry(env, { ...expect, authorId: a.accountId }), 'wrong-author');
  await rejectsProtocol(verifyEntry(env, { ...expect, bookletId: randomBytes(16) }), 'wrong-booklet');
  await rejectsProtocol(verifyEntry(env, expectFor(author, [author, a, b])), 'recipient-set-mismatch');
  await rejectsProtocol(verifyEntry(env, expectFor(author, [author])), 'recipient-set-mismatch');
  await rejectsProtocol(verifyEntry(env, { ...expect, recipients: [asRecipient(author), { accountId: a.accountId, encryptionKey: b.encryptionPublic }] }), 'recipient-set-mismatch');
  await rejectsProtocol(openEntry(env, { ...from(author), me: stranger }), 'not-a-recipient');
  const impostor = new AccountKeys(a.accountId, a.identity, stranger.encryption); // right id, wrong EK
  await rejectsProtocol(openEntry(env, { ...from(author), me: impostor }), 'not-a-recipient');
  const opened = await openEntry(env, { ...from(author), me: a });
  const args = { ...from(author), entryId: opened.header.entryId, contentKey: opened.contentKey, entryHash: opened.entryHash };
  assert.equal((await openEntryWithKey(env, args)).payload.text, 'hello');
  await rejectsProtocol(openEntryWithKey(env, { ...args, contentKey: randomBytes(32) }), 'key-commitment-mismatch');
  await rejectsProtocol(openEntryWithKey(env, { ...args, contentKey: opened.contentKey.subarray(0, 31) }), 'malformed');
  await rejectsProtocol(openEntryWithKey(env, { ...args, entryHash: randomBytes(32) }), 'entry-hash-mismatch');
  // The envelope is the grant item's entry before the key is looked at at all.
  await rejectsProtocol(openEntryWithKey(env, { ...args, entryHash: randomBytes(32), contentKey: randomBytes(31) }), 'entry-hash-mismatch');
  await rejectsProtocol(openEntryWithKey(env, { ...args, entryId: randomBytes(16) }), 'entry-hash-mismatch');
  await rejectsProtocol(openEntryWithKey(env, { ...args, bookletId: randomBytes(16) }), 'wrong-booklet');
  await rejectsProtocol(openEntryWithKey(env, { ...args, authorId: a.accountId }), 'wrong-author');
});

test('sealing refuses duplicate recipients, too many or none, unknown kinds and bad keys', async () => {
  const [author, a] = members;
  await rejectsProtocol(seal(author, [author, a, a]), 'recipients-not-canonical');
  await rejectsProtocol(seal(author, []), 'bad-recipient-count');
  const many = Array.from({ length: 65 }, () => ({ accountId: randomBytes(16), encryptionKey: a.encryptionPublic }));
  await rejectsProtocol(sealEntry(author, { bookletId: BOOKLET, entryId: randomBytes(16), kind: KIND.note, sequence: 1, prevHash: new Uint8Array(32), createdAt: 1, plaintext: new Uint8Array(0), recipients: many }), 'bad-recipient-count');
  await rejectsProtocol(seal(author, [author], 'x', { kind: 9 }), 'unknown-kind');
  await rejectsProtocol(seal(author, [author], 'x', { bookletId: randomBytes(15) }), 'malformed');
  await rejectsProtocol(sealEntry(author, { bookletId: BOOKLET, entryId: randomBytes(16), kind: KIND.note, sequence: 1, prevHash: new Uint8Array(32), createdAt: 1, plaintext: new Uint8Array(0), recipients: [{ accountId: a.accountId, encryptionKey: new Uint8Array(32) }] }), 'invalid-key');
});

test('a payload that does not match the header kind is `bad-payload`', async () => {
  const [author] = members;
  const base = { bookletId: BOOKLET, entryId: randomBytes(16), kind: KIND.note, sequence: 1, prevHash: new Uint8Array(32), createdAt: 1, recipients: [asRecipient(author)] };
  for (const plaintext of [new Uint8Array(0), Uint8Array.of(0xff), new TextEncoder().encode('{"kind":"title","title":"x"}'), new TextEncoder().encode('{"kind":"note"}'), new TextEncoder().encode('[]')]) {
    const env = await sealEntry(author, { ...base, plaintext });
    await rejectsProtocol(openEntry(env, { ...from(author), me: author }), 'bad-payload');
  }
});

test('grant round trip; every bit flip and truncation of a grant is rejected by the server check', async () => {
  const [granter, author, newcomer] = members;
  const envs = await Promise.all([1, 2, 3].map(() => seal(author, [author, granter])));
  const keys = await Promise.all(envs.map(async (env) => {
    const o = await openEntry(env, { ...from(author), me: granter });
    return { entryId: o.header.entryId, entryHash: o.entryHash, contentKey: o.contentKey };
  }));
  const grant = await sealGrant(granter, { bookletId: BOOKLET, granteeId: newcomer.accountId, granteeEk: newcomer.encryptionPublic, createdAt: 5, keys });
  const expect = {
    granterIdentityKey: granter.identityPublic, bookletId: BOOKLET, granterId: granter.accountId, granteeId: newcomer.accountId,
    granteeEk: newcomer.encryptionPublic, entries: keys.map(({ entryId, entryHash: h }) => ({ entryId, entryHash: h })),
  };
  await verifyGrant(grant, expect);
  const opened = await openGrant(grant, { granterIdentityKey: granter.identityPublic, me: newcomer });
  for (const k of opened.keys) {
    const env = envs[keys.findIndex((x) => x.entryId.every((b, i) => b === k.entryId[i]))];
    const entry = await openEntryWithKey(env, { ...from(author), entryId: k.entryId, contentKey: k.contentKey, entryHash: k.entryHash });
    assert.equal(entry.payload.text, 'hello');
  }
  await rejectsProtocol(openGrant(grant, { granterIdentityKey: granter.identityPublic, me: author }), 'wrong-grantee');
  for (let bit = 0; bit < grant.length * 8; bit++) {
    const bad = grant.slice();
    bad[bit >> 3] ^= 1 << (bit & 7);
    await rejectsProtocol(verifyGrant(bad, expect), undefined, `bit ${bit}`);
  }
  for (let len = 0; len < grant.length; len++) await rejectsProtocol(verifyGrant(grant.subarray(0, len), expect), 'truncated');
});

test('parsers turn random and non-byte input into ProtocolErrors only', async () => {
  const parsers = [parseEntry, parseGrant, parseKeyStatement, parseQrPayload, (d) => KeyBundle.parse(d)];
  const prefixes = [[1, 0, 1, 0x11], [1, 0, 1, 0x10 /* the retired entry type */], [1, 0, 1, 0x20], [1, 0, 1, 0x01], [1, 0, 1, 0x30], [1, 0, 1, 0x02]];
  for (let round = 0; round < 2000; round++) {
    const data = randomBytes(round % 400);
    if (round % 2 && data.length >= 4) data.set(prefixes[round % prefixes.length]);
    for (const parse of parsers) {
      try {
        parse(data);
      } catch (e) {
        assert.equal(e.name, 'ProtocolError', String(e.stack));
      }
    }
  }
  for (const junk of [undefined, null, 'text', 42, {}, [1, 0, 1, 16]]) {
    for (const parse of parsers) assert.throws(() => parse(junk), { name: 'ProtocolError' });
  }
});
