// Guardian consent records (docs/protocol.md §5.1) against tests/vectors/consent-v1.json, written
// by tools/gen_vectors.py from the Python implementation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccountKeys, CONSENT, KeyBundle, fromHex, sealConsent, toHex, verifyConsent } from '../../src/secure_msg/web/static/crypto/index.mjs';
import { readJson } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'consent-v1.json');
const byId = new Map(V.accounts.map((a) => [a.account_id, a]));
const SIG = 64;
const keysOf = (a) => AccountKeys.fromBundle(new KeyBundle(fromHex(a.account_id), fromHex(a.identity_seed), fromHex(a.encryption_secret)));

const context = (c) => ({
  guardianIdentityKey: fromHex(c.guardian_identity_key), action: c.action, bookletId: fromHex(c.booklet_id),
  guardianId: fromHex(c.guardian_id), caregiverId: fromHex(c.caregiver_id), caregiverIdentityKey: fromHex(c.caregiver_identity_key),
  until: c.until, scope: c.scope,
});

for (const rec of V.records) {
  test(`consent ${rec.name}: seal reproduces the signed bytes, both records verify`, async () => {
    const guardian = await keysOf(byId.get(rec.guardian));
    const caregiver = byId.get(V.caregiver);
    const terms = { bookletId: fromHex(V.booklet_id), caregiverId: fromHex(caregiver.account_id), caregiverIdentityKey: fromHex(caregiver.identity_key), until: rec.until, scope: rec.scope };
    const sealed = await sealConsent(guardian, { ...terms, action: rec.action, createdAt: rec.created_at });
    assert.equal(toHex(sealed.subarray(0, sealed.length - SIG)), rec.record.slice(0, rec.record.length - 2 * SIG));
    for (const blob of [fromHex(rec.record), sealed]) {
      const c = await verifyConsent(blob, { ...terms, guardianIdentityKey: guardian.identityPublic, guardianId: guardian.accountId, action: rec.action });
      assert.equal(toHex(c.caregiverFingerprint), rec.caregiver_fingerprint);
    }
  });
}

for (const n of V.negative) {
  test(`negative ${n.name}: ${n.error}`, async () => {
    await assert.rejects(verifyConsent(fromHex(n.data), context(n.context)), (e) => e.code === n.error);
  });
}

test('a withdrawal verifies whatever its terms; as an approval it is wrong-action', async () => {
  const rec = V.records.find((r) => r.action === CONSENT.WITHDRAW);
  const guardian = byId.get(rec.guardian);
  const caregiver = byId.get(V.caregiver);
  const expect = { guardianIdentityKey: fromHex(guardian.identity_key), guardianId: fromHex(guardian.account_id), bookletId: fromHex(V.booklet_id), caregiverId: fromHex(caregiver.account_id), caregiverIdentityKey: fromHex(caregiver.identity_key) };
  await verifyConsent(fromHex(rec.record), { ...expect, action: CONSENT.WITHDRAW });
  await assert.rejects(verifyConsent(fromHex(rec.record), { ...expect, action: CONSENT.APPROVE }), (e) => e.code === 'wrong-action');
});
