// The checks that close the v1 review findings (tests/crypto/test_attacks.py, docs/protocol.md
// §3.2, §4.1, §4.4, §4.5): identity keys exactly as libsodium accepts them, low-order encryption keys in
// key statements, entries replayed into another booklet or relabelled with another author, payloads
// JSON.parse cannot take, and an author handing recipients different content keys (F4), also
// through the retired entry type 0x10, which carried no key commitment.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AccountKeys, KIND, KeyBundle, encodePayload, entryHash, fromHex, headerHash, openEntry, openEntryWithKey, parseEntry, randomBytes,
  sealEntry, verifyEntry, verifyKeyStatement,
} from '../../src/secure_msg/web/static/crypto/index.mjs';
import { Writer, concat, equal } from '../../src/secure_msg/web/static/crypto/encoding.mjs';
import { sealBase } from '../../src/secure_msg/web/static/crypto/hpke.mjs';
import { LABEL, TYPE, labelled } from '../../src/secure_msg/web/static/crypto/labels.mjs';
import { sha256, sign } from '../../src/secure_msg/web/static/crypto/primitives.mjs';
import { isValidEd25519Key } from '../../src/secure_msg/web/static/crypto/ed25519.mjs';
import { readJson, scriptedRng } from './helpers.mjs';

const ED25519_SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '0000000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map(fromHex);

const X25519_LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
].map(fromHex);

const newKeys = () => AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)));
const [therapist, parent, mallory] = await Promise.all([newKeys(), newKeys(), newKeys()]);
const BOOKLET_X = randomBytes(16);
const BOOKLET_Y = randomBytes(16);
const asRecipient = (k) => ({ accountId: k.accountId, encryptionKey: k.encryptionPublic });

const seal = (author, bookletId, rng = randomBytes) => sealEntry(author, {
  bookletId, entryId: randomBytes(16), kind: KIND.note, sequence: 1, prevHash: new Uint8Array(32), createdAt: 1,
  plaintext: encodePayload(KIND.note, { text: 'x' }), recipients: [therapist, parent].map(asRecipient), rng,
});

/** `unsigned` and the author's valid signature over it. */
const signed = async (author, unsigned) => concat(unsigned, await sign(author.identity.privateKey, LABEL.ENTRY_SIGNATURE, unsigned));

/**
 * What a dishonest author's client can send: `env` with `header` (by default its own) and each
 * recipient's wrap replaced by an HPKE seal of `keyFor(recipientId)` under the new header's wrap
 * info, validly signed again.
 */
async function rewrapped(author, env, keyFor, header) {
  const entry = parseEntry(env);
  header ??= entry.headerBytes;
  const hh = await headerHash(header);
  const wraps = await Promise.all(entry.wraps.map(async ({ recipientId: id, recipientEk: ek }) => {
    const { enc, ciphertext } = await sealBase(ek, labelled(LABEL.ENTRY_KEY, hh, id, ek), new Uint8Array(0), keyFor(id));
    return concat(id, ek, enc, ciphertext);
  }));
  const middle = entry.signedPart.subarray(entry.headerBytes.length, entry.signedPart.length - 128 * wraps.length);
  return signed(author, concat(header, middle, ...wraps));
}

/**
 * `env` as the retired type 0x10 laid it out: type byte 0x10 and no key commitment (header bytes
 * 113..144), validly signed again by `author`.
 */
async function asRetiredType(author, env) {
  const unsigned = concat(env.subarray(0, 113), env.subarray(145, -64));
  unsigned[3] = 0x10; // the retired entry type
  return signed(author, unsigned);
}

/** The randomness of a two-recipient seal whose content key is `key`. @param {Uint8Array} key */
const withContentKey = (key) => scriptedRng(key, randomBytes(12), randomBytes(32), randomBytes(32));

test('a small-order identity key is `invalid-key`: WebCrypto would accept forgeries under it', async () => {
  const env = await seal(therapist, BOOKLET_X);
  for (const ik of ED25519_SMALL_ORDER) {
    const unsigned = new Writer(TYPE.KEY_STATEMENT).raw(mallory.accountId).raw(ik).raw(mallory.encryptionPublic).u64(1).finish();
    const forged = concat(unsigned, ED25519_SMALL_ORDER[0], new Uint8Array(32)); // R = identity, S = 0
    await assert.rejects(verifyKeyStatement(forged), { code: 'invalid-key' });
    const forgedEntry = concat(env.subarray(0, env.length - 64), ED25519_SMALL_ORDER[0], new Uint8Array(32));
    const expect = { authorIdentityKey: ik, bookletId: BOOKLET_X, authorId: therapist.accountId, recipients: [therapist, parent].map(asRecipient) };
    await assert.rejects(verifyEntry(forgedEntry, expect), { code: 'invalid-key' });
  }
});

test('payloads that are not RFC 8259 JSON, or nest too deeply to parse, are `bad-payload`', async () => {
  const base = { bookletId: BOOKLET_X, entryId: randomBytes(16), kind: KIND.note, sequence: 1, prevHash: new Uint8Array(32), createdAt: 1, recipients: [asRecipient(therapist)] };
  const texts = ['{"kind":"note","text":NaN}', '{"kind":"note","text":"x","n":Infinity}', `${'['.repeat(100000)}${']'.repeat(100000)}`];
  for (const text of texts) {
    const env = await sealEntry(therapist, { ...base, plaintext: new TextEncoder().encode(text) });
    await assert.rejects(
      openEntry(env, { authorIdentityKey: therapist.identityPublic, authorId: therapist.accountId, bookletId: BOOKLET_X, me: therapist }),
      { code: 'bad-payload' },
    );
  }
});

test('Ed25519 identity keys are accepted exactly as libsodium accepts them (the Python side)', () => {
  const { cases } = readJson('tests', 'js', 'ed25519-points.json');
  assert.ok(cases.some((c) => c.valid) && cases.some((c) => !c.valid));
  for (const c of cases) assert.equal(isValidEd25519Key(fromHex(c.key)), c.valid, `${c.what}: ${c.key}`);
});

test('a validly signed key statement with a low-order encryption key is `invalid-key`', async () => {
  for (const ek of X25519_LOW_ORDER) {
    const unsigned = new Writer(TYPE.KEY_STATEMENT).raw(mallory.accountId).raw(mallory.identityPublic).raw(ek).u64(1).finish();
    const statement = concat(unsigned, await sign(mallory.identity.privateKey, LABEL.KEY_STATEMENT, unsigned));
    await assert.rejects(verifyKeyStatement(statement), { code: 'invalid-key' });
  }
});

test('a recipient given the booklet and author refuses a replayed or relabelled entry', async () => {
  const fromY = await seal(therapist, BOOKLET_Y);
  const args = { authorIdentityKey: therapist.identityPublic, me: parent, authorId: therapist.accountId };
  await assert.rejects(openEntry(fromY, { ...args, bookletId: BOOKLET_X }), { code: 'wrong-booklet' });
  assert.equal((await openEntry(fromY, { ...args, bookletId: BOOKLET_Y })).payload.text, 'x');

  // Mallory signs a header naming the therapist as author; a colluding server labels it as Mallory's.
  const forged = await seal(new AccountKeys(therapist.accountId, mallory.identity, mallory.encryption), BOOKLET_X);
  await assert.rejects(openEntry(forged, { authorIdentityKey: therapist.identityPublic, authorId: therapist.accountId, bookletId: BOOKLET_X, me: parent }), { code: 'bad-signature' });
  await assert.rejects(
    openEntry(forged, { authorIdentityKey: mallory.identityPublic, me: parent, authorId: mallory.accountId, bookletId: BOOKLET_X }),
    { code: 'wrong-author' },
  );
});

test('an author cannot hand one recipient another content key: `key-commitment-mismatch`, never another text', async () => {
  const key = randomBytes(32);
  const env = await seal(therapist, BOOKLET_X, withContentKey(key));
  const args = { authorIdentityKey: therapist.identityPublic, authorId: therapist.accountId, bookletId: BOOKLET_X };
  const other = randomBytes(32);
  const equivocating = await rewrapped(therapist, env, (id) => (equal(id, parent.accountId) ? other : key));
  // The server cannot tell (it has no private key); the recipient can.
  await verifyEntry(equivocating, { ...args, recipients: [therapist, parent].map(asRecipient) });
  assert.equal((await openEntry(equivocating, { ...args, me: therapist })).payload.text, 'x');
  await assert.rejects(openEntry(equivocating, { ...args, me: parent }), { code: 'key-commitment-mismatch' });
});

test('a changed key commitment: `bad-signature`, or re-signed with wraps to match, `key-commitment-mismatch`', async () => {
  const key = randomBytes(32);
  const env = await seal(therapist, BOOKLET_X, withContentKey(key));
  const args = { authorIdentityKey: therapist.identityPublic, authorId: therapist.accountId, bookletId: BOOKLET_X, me: parent };
  const { headerBytes } = parseEntry(env);
  const header = concat(headerBytes.subarray(0, 113), await sha256(LABEL.ENTRY_KEY_COMMITMENT, randomBytes(32)));
  await assert.rejects(openEntry(await rewrapped(therapist, env, () => key, header), args), { code: 'key-commitment-mismatch' });

  const flipped = env.slice();
  flipped[113] ^= 1;
  await assert.rejects(openEntry(flipped, args), { code: 'bad-signature' });
  await assert.rejects(verifyEntry(flipped, { ...args, recipients: [therapist, parent].map(asRecipient) }), { code: 'bad-signature' });
  // Re-signed but with the old wraps: the wrap info binds the header hash, so HPKE fails first (check 9).
  await assert.rejects(openEntry(await signed(therapist, flipped.subarray(0, -64)), args), { code: 'unwrap-failed' });
});

test('a retired type 0x10 entry is `wrong-type` to the server, every recipient and a grantee: its equivocation opens for nobody', async () => {
  const key = randomBytes(32);
  const env = await seal(therapist, BOOKLET_X, withContentKey(key));
  const args = { authorIdentityKey: therapist.identityPublic, authorId: therapist.accountId, bookletId: BOOKLET_X };
  const equivocating = await rewrapped(therapist, env, (id) => (equal(id, parent.accountId) ? randomBytes(32) : key));
  for (const retired of [await asRetiredType(therapist, env), await asRetiredType(therapist, equivocating)]) {
    assert.equal(retired.length, env.length - 32);
    await assert.rejects(verifyEntry(retired, { ...args, recipients: [therapist, parent].map(asRecipient) }), { code: 'wrong-type' });
    for (const me of [therapist, parent]) await assert.rejects(openEntry(retired, { ...args, me }), { code: 'wrong-type' });
    const item = { entryId: parseEntry(env).header.entryId, entryHash: await entryHash(retired), contentKey: key };
    await assert.rejects(openEntryWithKey(retired, { ...args, ...item }), { code: 'wrong-type' });
  }
});
