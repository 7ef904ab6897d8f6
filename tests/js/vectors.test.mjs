// The project's own vectors (tests/vectors/protocol-v1.json, written by tools/gen_vectors.py from
// the Python implementation): every positive vector reproduced, every negative one rejected with
// its code. Signatures are verified, never compared.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AccountKeys, KeyBundle, PURPOSE, checkQrPayload, derivePasswordKeys, deriveRecoveryKeys, encodeQrPayload,
  entryHash, fingerprint, formatRecoveryKey, fromHex, headerHash, openBundle, openEntry, openEntryWithKey,
  decodePayload, openGrant, parseKeyStatement, parseRecoveryKey, safetyNumber, sealBundle, sealEntry, sealGrant, toHex,
  verifyEntry, verifyGrant, verifyKeyStatement, KIND,
} from '../../src/secure_msg/web/static/crypto/index.mjs';
import { LABEL } from '../../src/secure_msg/web/static/crypto/labels.mjs';
import { sha256 } from '../../src/secure_msg/web/static/crypto/primitives.mjs';
import { readJson, scriptedRng } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'protocol-v1.json');
const SIG = 64;
const HEADER = 145; // entry type 0x11, ending in its 32-byte key commitment
const accounts = new Map(V.accounts.map((a) => [a.name, a]));
const byId = new Map(V.accounts.map((a) => [a.account_id, a]));

/** @param {{account_id: string, identity_seed: string, encryption_secret: string}} a */
const keysOf = (a) => AccountKeys.fromBundle(new KeyBundle(fromHex(a.account_id), fromHex(a.identity_seed), fromHex(a.encryption_secret)));
const recipientOf = (id) => ({ accountId: fromHex(id), encryptionKey: fromHex(byId.get(id).encryption_key) });
const unsigned = (hex) => hex.slice(0, hex.length - 2 * SIG);

test('the vectors file is v1, suite 1', () => {
  assert.equal(V.version, 1);
  assert.equal(V.suite, 1);
});

for (const a of V.accounts) {
  test(`account ${a.name}: keys, key statement, fingerprint`, async () => {
    const keys = await keysOf(a);
    assert.equal(toHex(keys.identityPublic), a.identity_key);
    assert.equal(toHex(keys.encryptionPublic), a.encryption_key);
    const mine = await keys.statement(a.created_at);
    assert.equal(toHex(mine.subarray(0, 92)), a.key_statement.slice(0, 184));
    await verifyKeyStatement(mine, { accountId: keys.accountId, pinnedIdentityKey: keys.identityPublic });
    const st = await verifyKeyStatement(fromHex(a.key_statement), { accountId: fromHex(a.account_id), pinnedIdentityKey: fromHex(a.identity_key) });
    assert.equal(toHex(st.encryptionKey), a.encryption_key);
    assert.equal(st.createdAt, a.created_at);
    assert.equal(await fingerprint(fromHex(a.identity_key)), a.fingerprint);
  });

  test(`account ${a.name}: password keys and password-sealed bundle`, async () => {
    const { authKey, kek } = await derivePasswordKeys(a.password, { kdf: 'pbkdf2-sha256', salt: fromHex(a.salt), iterations: a.iterations });
    assert.equal(toHex(authKey), a.auth_key);
    assert.equal(toHex(kek), a.kek);
    await checkBundle(a, a.sealed_bundle_password, kek, PURPOSE.PASSWORD);
  });

  test(`account ${a.name}: recovery key text, derived keys and recovery-sealed bundle`, async () => {
    const secret = fromHex(a.recovery_secret);
    assert.equal(await formatRecoveryKey(secret), a.recovery_key);
    assert.equal(toHex(await parseRecoveryKey(a.recovery_key)), a.recovery_secret);
    const { authKey, kek } = await deriveRecoveryKeys(secret);
    assert.equal(toHex(authKey), a.recovery_auth_key);
    assert.equal(toHex(kek), a.recovery_kek);
    await checkBundle(a, a.sealed_bundle_recovery, kek, PURPOSE.RECOVERY);
  });
}

async function checkBundle(a, sealedHex, kek, purpose) {
  const bundle = new KeyBundle(fromHex(a.account_id), fromHex(a.identity_seed), fromHex(a.encryption_secret));
  assert.equal(toHex(bundle.encode()), a.bundle);
  const sealed = fromHex(sealedHex);
  const again = await sealBundle(bundle, kek, purpose, scriptedRng(sealed.slice(21, 33)));
  assert.equal(toHex(again), sealedHex);
  const statement = parseKeyStatement(fromHex(a.key_statement));
  const opened = await openBundle(sealed, kek, { purpose, statement });
  assert.equal(toHex(opened.bundle.encode()), a.bundle);
  assert.equal(toHex(opened.keys.identityPublic), a.identity_key);
}

const entries = new Map(V.entries.map((e) => [e.entry_id, e]));

for (const e of V.entries) {
  test(`entry ${e.name}: seal reproduces header, body and wraps; verify; every recipient opens`, async () => {
    const author = await keysOf(accounts.get(e.author_name));
    assert.equal(e.kind_id, KIND[e.kind]);
    const rng = scriptedRng(fromHex(e.content_key), fromHex(e.nonce), ...e.ephemeral_secrets.map(fromHex));
    const sealed = await sealEntry(author, {
      bookletId: fromHex(e.booklet_id), entryId: fromHex(e.entry_id), kind: e.kind_id, sequence: e.sequence,
      prevHash: fromHex(e.prev_hash), createdAt: e.created_at, plaintext: new TextEncoder().encode(e.plaintext),
      recipients: e.recipients.map(recipientOf), rng,
    });
    assert.equal(rng.remaining(), 0);
    assert.equal(sealed.length * 2, e.envelope.length);
    assert.equal(toHex(sealed.subarray(0, HEADER)), e.header);
    assert.equal(toHex(await headerHash(sealed.subarray(0, HEADER))), e.header_hash);
    assert.equal(e.unsigned_length, sealed.length - SIG);
    assert.equal(toHex(sealed.subarray(0, e.unsigned_length)), unsigned(e.envelope));
    assert.equal(toHex(await sha256(LABEL.ENTRY_KEY_COMMITMENT, fromHex(e.content_key))), e.key_commitment);
    assert.equal(e.header.slice(2 * (HEADER - 32)), e.key_commitment);

    const envelope = fromHex(e.envelope);
    assert.equal(toHex(await entryHash(envelope)), e.entry_hash);
    const expect = { authorIdentityKey: author.identityPublic, bookletId: fromHex(e.booklet_id), authorId: author.accountId, recipients: e.recipients.map(recipientOf) };
    for (const env of [envelope, sealed]) assert.equal((await verifyEntry(env, expect)).header.sequence, e.sequence);
    for (const id of e.recipients) {
      const me = await keysOf(byId.get(id));
      const opened = await openEntry(envelope, { authorIdentityKey: author.identityPublic, authorId: author.accountId, bookletId: fromHex(e.booklet_id), me });
      assert.equal(new TextDecoder().decode(opened.plaintext), e.plaintext);
      assert.equal(opened.payload.kind, e.kind);
      assert.equal(toHex(opened.contentKey), e.content_key);
      assert.equal(toHex(opened.entryHash), e.entry_hash);
    }
  });
}

test('entries chain: sequence 1 has a zero prev_hash, then each links to the previous entry hash', () => {
  const sorted = [...V.entries].sort((x, y) => x.sequence - y.sequence);
  sorted.forEach((e, i) => assert.equal(e.prev_hash, i === 0 ? '00'.repeat(32) : sorted[i - 1].entry_hash));
});

test('grant: seal reproduces the items, server verify passes, the grantee opens every entry', async () => {
  const g = V.grant;
  const item = (x) => [x.entry_id, x.entry_hash, x.content_key];
  assert.deepEqual(g.items.map(item), V.entries.slice(0, 3).map(item));
  const granter = await keysOf(byId.get(g.granter));
  const grantee = await keysOf(byId.get(g.grantee));
  const rng = scriptedRng(...g.ephemeral_secrets.map(fromHex));
  const sealed = await sealGrant(granter, {
    bookletId: fromHex(V.booklet_id), granteeId: grantee.accountId, granteeEk: grantee.encryptionPublic, createdAt: g.created_at,
    keys: g.items.map((i) => ({ entryId: fromHex(i.entry_id), entryHash: fromHex(i.entry_hash), contentKey: fromHex(i.content_key) })),
    rng,
  });
  assert.equal(rng.remaining(), 0);
  assert.equal(toHex(sealed.subarray(0, sealed.length - SIG)), unsigned(g.grant));
  for (const blob of [fromHex(g.grant), sealed]) await verifyGrant(blob, grantContext(g.context));
  const { keys } = await openGrant(fromHex(g.grant), { granterIdentityKey: granter.identityPublic, me: grantee });
  assert.deepEqual(keys.map((k) => toHex(k.contentKey)), g.items.map((i) => i.content_key));
  for (const k of keys) {
    const e = entries.get(toHex(k.entryId));
    const author = accounts.get(e.author_name);
    const opened = await openEntryWithKey(fromHex(e.envelope), {
      authorIdentityKey: fromHex(author.identity_key), authorId: fromHex(author.account_id), bookletId: fromHex(V.booklet_id),
      entryId: k.entryId, contentKey: k.contentKey, entryHash: k.entryHash,
    });
    assert.equal(new TextDecoder().decode(opened.plaintext), e.plaintext);
  }
});

const grantContext = (c) => ({
  granterIdentityKey: fromHex(c.granter_identity_key), bookletId: fromHex(c.booklet_id), granterId: fromHex(c.granter_id),
  granteeId: fromHex(c.grantee_id), granteeEk: fromHex(c.grantee_ek),
  entries: Object.entries(c.entry_hashes).map(([id, h]) => ({ entryId: fromHex(id), entryHash: fromHex(h) })),
});

const party = (name) => ({ accountId: fromHex(accounts.get(name).account_id), identityKey: fromHex(accounts.get(name).identity_key) });

for (const s of V.safety_numbers) {
  test(`safety number ${s.a}/${s.b}, the same from both sides`, async () => {
    assert.equal(await safetyNumber(party(s.a), party(s.b)), s.number);
    assert.equal(await safetyNumber(party(s.b), party(s.a)), s.number);
  });
}

for (const q of V.qr_payloads) {
  test(`QR payload ${q.shower} → ${q.scanner}`, () => {
    const payload = encodeQrPayload({ shower: party(q.shower), scanner: party(q.scanner) });
    assert.equal(toHex(payload), q.payload);
    checkQrPayload(payload, { peer: party(q.shower), me: party(q.scanner) });
    assert.throws(() => checkQrPayload(payload, { peer: party(q.scanner), me: party(q.shower) }), { code: 'qr-mismatch' });
  });
}

for (const r of V.recovery_keys) {
  test(`recovery key text ${JSON.stringify(r.text)} parses`, async () => {
    assert.equal(toHex(await parseRecoveryKey(r.text)), r.secret);
  });
}

for (const p of V.payloads) {
  test(`payload ${p.name}: ${p.error ?? 'read'}`, () => {
    if (p.error) assert.throws(() => decodePayload(p.kind_id, fromHex(p.plaintext)), { name: 'ProtocolError', code: p.error });
    else assert.deepEqual(decodePayload(p.kind_id, fromHex(p.plaintext)), p.payload);
  });
}

/** The entry a negative vector's context shows a reader: its author's IK and id, and the booklet. */
const shownEntry = (c) => ({ authorIdentityKey: fromHex(c.author_identity_key), authorId: fromHex(c.author_id), bookletId: fromHex(c.booklet_id) });

/** One negative vector, run through the check it names. @returns {Promise<unknown>} */
async function runNegative(n) {
  const c = n.context;
  switch (`${n.object}/${n.check}`) {
    case 'entry/verify':
      return verifyEntry(fromHex(n.data), {
        ...shownEntry(c), recipients: Object.entries(c.recipients).map(([id, ek]) => ({ accountId: fromHex(id), encryptionKey: fromHex(ek) })),
      });
    case 'entry/open':
      return openEntry(fromHex(n.data), { ...shownEntry(c), me: await keysOf(c.as_keys ?? accounts.get(c.as)) });
    case 'entry/open-with-key':
      return openEntryWithKey(fromHex(n.data), {
        ...shownEntry(c), entryId: fromHex(c.entry_id), entryHash: fromHex(c.entry_hash), contentKey: fromHex(c.content_key),
      });
    case 'key-statement/verify':
      return verifyKeyStatement(fromHex(n.data), { accountId: fromHex(c.account_id), pinnedIdentityKey: fromHex(c.identity_key) });
    case 'sealed-bundle/open': {
      const owner = byId.get(toHex(fromHex(n.data).subarray(4, 20))) ?? accounts.get('therapist');
      const statement = parseKeyStatement(fromHex(c.statement ?? owner.key_statement));
      return openBundle(fromHex(n.data), fromHex(c.kek), { purpose: c.purpose, statement });
    }
    case 'recovery-key/parse':
      return parseRecoveryKey(n.data);
    case 'kdf/derive':
      return derivePasswordKeys(n.data.password, { salt: fromHex(n.data.salt), iterations: n.data.iterations });
    case 'grant/verify':
      return verifyGrant(fromHex(n.data), grantContext(c));
    case 'grant/open':
      return openGrant(fromHex(n.data), { granterIdentityKey: fromHex(c.granter_identity_key), me: await keysOf(c.as_keys ?? accounts.get(c.as)) });
    default:
      throw new Error(`no runner for negative vector ${n.name} (${n.object}/${n.check})`);
  }
}

for (const n of V.negative) {
  test(`negative ${n.name}: ${n.error}`, async () => {
    await assert.rejects(runNegative(n), (err) => {
      assert.equal(err?.name, 'ProtocolError', `expected a ProtocolError, got ${err}`);
      assert.equal(err.code, n.error);
      return true;
    });
  });
}
