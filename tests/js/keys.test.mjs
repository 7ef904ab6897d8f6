// Account keys, bundles, recovery keys and the device key store (Node's in-memory backend).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AccountKeys, KeyBundle, KeyStore, PURPOSE, derivePasswordKeys, deriveRecoveryKeys, formatRecoveryKey,
  generateRecoverySecret, memoryBackend, openBundle, parseKeyStatement, parseRecoveryKey, randomBytes, sealBundle,
  toHex, verifyKeyStatement,
} from '../../src/secure_msg/web/static/crypto/index.mjs';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

test('private keys are non-extractable CryptoKeys; the statement verifies and pins', async () => {
  const bundle = KeyBundle.generate(randomBytes(16));
  const keys = await AccountKeys.fromBundle(bundle);
  assert.equal(keys.identity.privateKey.extractable, false);
  assert.equal(keys.encryption.privateKey.extractable, false);
  const statement = await keys.statement(1_700_000_000_000);
  assert.equal(statement.length, 156);
  const st = await verifyKeyStatement(statement, { accountId: keys.accountId, pinnedIdentityKey: keys.identityPublic });
  assert.deepEqual(st.encryptionKey, keys.encryptionPublic);
  const other = await AccountKeys.fromBundle(KeyBundle.generate(randomBytes(16)));
  await assert.rejects(verifyKeyStatement(statement, { pinnedIdentityKey: other.identityPublic }), { code: 'identity-key-changed' });
  await assert.rejects(verifyKeyStatement(statement, { accountId: other.accountId }), { code: 'account-mismatch' });
});

test('sealed bundle: seal/open under password and recovery KEKs, with every failure typed', async () => {
  const bundle = KeyBundle.generate(randomBytes(16));
  const keys = await AccountKeys.fromBundle(bundle);
  const statement = parseKeyStatement(await keys.statement(1));
  const kek = randomBytes(32);
  const sealed = await sealBundle(bundle, kek, PURPOSE.PASSWORD);
  assert.equal(sealed.length, 137);
  const { bundle: back, keys: opened } = await openBundle(sealed, kek, { purpose: PURPOSE.PASSWORD, statement });
  assert.deepEqual(back.encode(), bundle.encode());
  assert.deepEqual(opened.encryptionPublic, keys.encryptionPublic);
  back.wipe();
  assert.ok(back.identitySeed.every((b) => b === 0));
  await assert.rejects(openBundle(sealed, randomBytes(32), { purpose: PURPOSE.PASSWORD, statement }), { code: 'bundle-decrypt-failed' });
  await assert.rejects(openBundle(sealed, kek, { purpose: PURPOSE.RECOVERY, statement }), { code: 'wrong-purpose' });
  const stranger = parseKeyStatement(await (await AccountKeys.fromBundle(KeyBundle.generate(bundle.accountId))).statement(1));
  await assert.rejects(openBundle(sealed, kek, { purpose: PURPOSE.PASSWORD, statement: stranger }), { code: 'bundle-key-mismatch' });
});

test('sealed bundle without a statement: every other check runs; the caller compares later', async () => {
  const bundle = KeyBundle.generate(randomBytes(16));
  const keys = await AccountKeys.fromBundle(bundle);
  const kek = randomBytes(32);
  const sealed = await sealBundle(bundle, kek, PURPOSE.RECOVERY);
  const { bundle: back, keys: opened } = await openBundle(sealed, kek, { purpose: PURPOSE.RECOVERY });
  assert.deepEqual(back.encode(), bundle.encode());
  assert.deepEqual(opened.identityPublic, keys.identityPublic);
  assert.deepEqual(opened.encryptionPublic, keys.encryptionPublic);
  await assert.rejects(openBundle(sealed, randomBytes(32), { purpose: PURPOSE.RECOVERY }), { code: 'bundle-decrypt-failed' });
  await assert.rejects(openBundle(sealed, kek, { purpose: PURPOSE.PASSWORD }), { code: 'wrong-purpose' });
  const flipped = sealed.slice();
  flipped[10] ^= 1; // inside the account id, which the AAD binds
  await assert.rejects(openBundle(flipped, kek, { purpose: PURPOSE.RECOVERY }), { code: 'bundle-decrypt-failed' });
  await assert.rejects(openBundle(sealed.subarray(0, 136), kek, { purpose: PURPOSE.RECOVERY }), (e) => e.name === 'ProtocolError');
  // The later comparison (as recovery does it: the re-sealed bundle opened with the statement)
  // still catches a bundle whose keys are not the account's.
  const stranger = KeyBundle.generate(bundle.accountId);
  const { bundle: wrong } = await openBundle(await sealBundle(stranger, kek, PURPOSE.RECOVERY), kek, { purpose: PURPOSE.RECOVERY });
  const statement = parseKeyStatement(await keys.statement(1));
  const resealed = await sealBundle(wrong, kek, PURPOSE.PASSWORD);
  await assert.rejects(openBundle(resealed, kek, { purpose: PURPOSE.PASSWORD, statement }), { code: 'bundle-key-mismatch' });
});

test('password keys: NFC normalisation, and no downgrade of the KDF parameters', async () => {
  const salt = randomBytes(16);
  const composed = await derivePasswordKeys('k\u00e4ytt\u00e4j\u00e4', { salt, iterations: 600000 });
  const decomposed = await derivePasswordKeys('ka\u0308ytta\u0308ja\u0308', { salt, iterations: 600000 });
  assert.deepEqual(composed, decomposed);
  assert.notDeepEqual(composed.authKey, composed.kek);
  for (const params of [{ salt, iterations: 599999 }, { salt: randomBytes(15), iterations: 600000 }, { kdf: 'argon2id', salt, iterations: 600000 }, { salt: 'x', iterations: 600000 }]) {
    await assert.rejects(derivePasswordKeys('pw', params), { code: 'weak-kdf-params' });
  }
});

test('recovery key: round trip, forgiving input, and every single-character typo of one key is caught', async () => {
  // A fixed key: with a 20-bit checksum a typo in the secret part slips through with chance 2^-20,
  // so checking all 1116 typos of a random key would fail about once in a thousand runs.
  const secret = Uint8Array.from({ length: 20 }, (_, i) => i * 13 + 7);
  assert.equal(generateRecoverySecret().length, 20);
  const text = await formatRecoveryKey(secret);
  assert.match(text, /^([0-9A-HJKMNP-TV-Z]{4}-){8}[0-9A-HJKMNP-TV-Z]{4}$/);
  assert.deepEqual(await parseRecoveryKey(text), secret);
  const sloppy = ` ${text.toLowerCase().replace(/-/g, ' ').replace(/1/g, 'l').replace(/0/g, 'o')} `;
  assert.deepEqual(await parseRecoveryKey(sloppy), secret);
  const chars = text.replace(/-/g, '');
  for (let i = 0; i < chars.length; i++) {
    for (const c of ALPHABET) {
      if (c === chars[i]) continue;
      const typo = chars.slice(0, i) + c + chars.slice(i + 1);
      await assert.rejects(parseRecoveryKey(typo), { code: 'recovery-key-checksum' }, `position ${i} → ${c}`);
    }
  }
  for (const bad of [chars.slice(1), `${chars}0`, `U${chars.slice(1)}`, '', 42]) {
    await assert.rejects(parseRecoveryKey(bad), { code: 'recovery-key-malformed' });
  }
  const derived = await deriveRecoveryKeys(secret);
  assert.equal(derived.authKey.length, 32);
  assert.notEqual(toHex(derived.authKey), toHex(derived.kek));
});

test('key store: bundles encrypted under a non-extractable device key, loaded as non-extractable keys', async () => {
  const backend = memoryBackend();
  const store = await KeyStore.open({ backend });
  const bundle = KeyBundle.generate(randomBytes(16));
  const seed = toHex(bundle.identitySeed);
  const keys = await AccountKeys.fromBundle(bundle);
  await store.save(bundle);
  const deviceKey = await backend.get('device-key');
  assert.equal(deviceKey.extractable, false);
  assert.equal(deviceKey.algorithm.name, 'AES-GCM');
  const record = await backend.get(`bundle:${toHex(bundle.accountId)}`);
  assert.ok(!toHex(record).includes(seed), 'the stored record must not contain the raw seed');

  const reopened = await KeyStore.open({ backend }); // a page reload: same device key, same records
  const loaded = await reopened.load(bundle.accountId);
  assert.deepEqual(loaded.identityPublic, keys.identityPublic);
  assert.deepEqual(loaded.encryptionPublic, keys.encryptionPublic);
  assert.equal(loaded.identity.privateKey.extractable, false);
  assert.equal(loaded.encryption.privateKey.extractable, false);
  assert.equal(await reopened.load(randomBytes(16)), null);

  record[20] ^= 1;
  await assert.rejects(reopened.load(bundle.accountId), { code: 'bundle-decrypt-failed' });
  await reopened.remove(bundle.accountId);
  assert.equal(await reopened.load(bundle.accountId), null);
  await reopened.clear();
  assert.equal(await backend.get('device-key'), undefined);
});

test('key store, memory-only mode: nothing reaches the given backend', async () => {
  const backend = memoryBackend();
  const store = await KeyStore.open({ backend, memoryOnly: true });
  const bundle = KeyBundle.generate(randomBytes(16));
  await store.save(bundle);
  assert.ok(await store.load(bundle.accountId));
  assert.equal(await backend.get('device-key'), undefined);
  assert.equal((await KeyStore.open({ memoryOnly: true }).then((s) => s.load(bundle.accountId))), null);
});
