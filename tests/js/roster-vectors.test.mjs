// tests/vectors/roster-v1.json (written by tools/gen_roster_vectors.py) in the browser code:
// signed rosters (docs/protocol.md §6.6), invitation records, join proofs, the link's fragment
// and a history grant to an invitation key (§6.7), the same cases the Python test runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccountKeys, KeyBundle, fromHex, toHex } from '../../src/secure_msg/web/static/crypto/index.mjs';
import { openEntryWithKey } from '../../src/secure_msg/web/static/crypto/envelope.mjs';
import { openGrant, sealGrant } from '../../src/secure_msg/web/static/crypto/grant.mjs';
import {
  checkInvitationSecret, checkMember, encodeFragment, invitationKeys, parseFragment, parseInvitation, parseRoster,
  signInvitation, signJoinProof, signRoster, verifyInvitation, verifyJoinProof, verifyRoster,
} from '../../src/secure_msg/web/static/crypto/roster.mjs';
import { readJson, scriptedRng } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'roster-v1.json');
const PEOPLE = Object.fromEntries(V.people.map((p) => [p.name, p]));
const T = PEOPLE.therapist;
const ROSTERS = Object.fromEntries(V.rosters.map((c) => [c.name, c]));
const INVITES = Object.fromEntries(V.invitations.map((c) => [c.name, c]));

const keysOf = (p) => AccountKeys.fromBundle(new KeyBundle(fromHex(p.account_id), fromHex(p.identity_seed), fromHex(p.encryption_secret)));
const ctxOf = (c) => ({ therapistIdentityKey: fromHex(c.therapist_identity_key), bookletId: fromHex(c.booklet_id), therapistId: fromHex(c.therapist_id), highestSeen: c.highest_seen });

/** The ProtocolError's code, or null when `fn` succeeds. */
async function codeOf(fn) {
  try {
    await fn();
    return null;
  } catch (e) {
    if (!e.code) throw e;
    return e.code;
  }
}

test('rosters: written byte for byte (signed part) and read back', async () => {
  const therapist = await keysOf(T);
  for (const c of V.rosters) {
    const members = c.members.map((m) => ({ accountId: fromHex(m.account_id), identityKey: fromHex(m.identity_key), role: m.role, until: m.until }));
    const blob = await signRoster(therapist, { bookletId: fromHex(c.booklet_id), version: c.version, createdAt: c.created_at, members: [...members].reverse() });
    assert.equal(toHex(blob.subarray(0, blob.length - 64)), c.signed_part, c.name);
    const ctx = { therapistIdentityKey: fromHex(T.identity_key), bookletId: fromHex(c.booklet_id), therapistId: fromHex(c.therapist_id) };
    for (const b of [blob, fromHex(c.roster)]) {
      const r = await verifyRoster(b, ctx);
      assert.equal(r.version, c.version);
      assert.deepEqual(r.members.map((m) => [toHex(m.accountId), toHex(m.identityKey), m.role, m.until]),
        c.members.map((m) => [m.account_id, m.identity_key, m.role, m.until]));
    }
  }
});

test('roster negative cases fail with their codes', async () => {
  for (const c of V.roster_negative) {
    assert.equal(await codeOf(() => verifyRoster(fromHex(c.roster), ctxOf(c.context))), c.error, c.name);
  }
});

test('members checked against a roster', async () => {
  for (const c of V.member_checks) {
    const roster = parseRoster(fromHex(ROSTERS[c.roster].roster));
    const code = await codeOf(() => checkMember(roster, { accountId: fromHex(c.account_id), identityKey: fromHex(c.identity_key), role: c.role, nowMs: c.now }));
    assert.equal(code, c.error, c.name);
  }
});

test('invitation keys, records and fragments', async () => {
  const therapist = await keysOf(T);
  for (const c of V.invitations) {
    const inv = await invitationKeys(fromHex(c.secret));
    assert.deepEqual([toHex(inv.identityPublic), toHex(inv.encryptionPublic), toHex(inv.accountId)],
      [c.invitation_ik, c.invitation_ek, c.invitation_id]);
    const blob = await signInvitation(therapist, { bookletId: fromHex(V.booklet_id), invitation: inv, role: c.role, createdAt: c.created_at });
    assert.equal(toHex(blob.subarray(0, 109)), c.record.slice(0, 218));
    const rec = await verifyInvitation(fromHex(c.record), { therapistIdentityKey: fromHex(T.identity_key), bookletId: fromHex(V.booklet_id), therapistId: fromHex(T.account_id) });
    assert.deepEqual([rec.role, rec.createdAt], [c.role, c.created_at]);
    checkInvitationSecret(rec, inv);
    for (const via of ['qr', 'link']) {
      const f = parseFragment(c[`fragment_${via}`]);
      assert.deepEqual([toHex(f.secret), f.via], [c.secret, via]);
      assert.equal(encodeFragment(f), c[`fragment_${via}`]);
    }
  }
  for (const c of V.invitation_negative) {
    const ctx = { therapistIdentityKey: fromHex(c.context.therapist_identity_key), bookletId: fromHex(c.context.booklet_id), therapistId: fromHex(c.context.therapist_id) };
    assert.equal(await codeOf(() => verifyInvitation(fromHex(c.record), ctx)), c.error, c.name);
  }
  for (const c of V.invitation_secret_checks) {
    const inv = await invitationKeys(fromHex(c.secret));
    assert.equal(await codeOf(() => checkInvitationSecret(parseInvitation(fromHex(c.record)), inv)), c.error, c.name);
  }
});

test('join proofs, and the negative ones', async () => {
  for (const c of V.join_proofs) {
    const inv = await invitationKeys(fromHex(INVITES[c.invitation].secret));
    const member = { memberId: fromHex(c.member_id), memberIk: fromHex(c.member_ik) };
    const blob = await signJoinProof(inv, { bookletId: fromHex(V.booklet_id), ...member });
    assert.equal(toHex(blob.subarray(0, 100)), c.proof.slice(0, 200));
    const rec = parseInvitation(fromHex(INVITES[c.invitation].record));
    for (const b of [blob, fromHex(c.proof)]) await verifyJoinProof(b, rec, member);
  }
  for (const c of V.join_proof_negative) {
    const rec = parseInvitation(fromHex(INVITES[c.invitation].record));
    const code = await codeOf(() => verifyJoinProof(fromHex(c.proof), rec, { memberId: fromHex(c.member_id), memberIk: fromHex(c.member_ik) }));
    assert.equal(code, c.error, c.name);
  }
});

test('the history sealed to an invitation opens with the secret, and is reproduced', async () => {
  const c = V.invitation_grant;
  const inv = await invitationKeys(fromHex(INVITES[c.invitation].secret));
  const { grant, keys } = await openGrant(fromHex(c.grant), { granterIdentityKey: fromHex(T.identity_key), me: inv });
  for (const e of c.entries) {
    const item = keys.find((k) => toHex(k.entryId) === e.entry_id);
    assert.equal(toHex(item.contentKey), e.content_key);
    const opened = await openEntryWithKey(fromHex(e.envelope), {
      authorIdentityKey: fromHex(T.identity_key), authorId: fromHex(T.account_id), bookletId: fromHex(V.booklet_id),
      entryId: item.entryId, entryHash: item.entryHash, contentKey: item.contentKey,
    });
    assert.equal(toHex(opened.plaintext), e.plaintext);
  }
  const again = await sealGrant(await keysOf(T), {
    bookletId: fromHex(V.booklet_id), granteeId: inv.accountId, granteeEk: inv.encryptionPublic, createdAt: grant.createdAt,
    keys: c.entries.map((e) => ({ entryId: fromHex(e.entry_id), entryHash: fromHex(e.entry_hash), contentKey: fromHex(e.content_key) })),
    rng: scriptedRng(...c.ephemeral_secrets.map(fromHex)),
  });
  assert.equal(toHex(again), c.grant);
  const other = await invitationKeys(new Uint8Array(32).fill(7));
  assert.equal(await codeOf(() => openGrant(fromHex(c.grant), { granterIdentityKey: fromHex(T.identity_key), me: other })), 'wrong-grantee');
});

test('fragments: valid in any order, malformed otherwise', () => {
  for (const c of V.fragments) {
    if (c.error) {
      assert.throws(() => parseFragment(c.text), (e) => e.code === c.error, c.text);
      continue;
    }
    const f = parseFragment(c.text);
    assert.deepEqual([toHex(f.secret), f.therapistFingerprint, f.via], [c.secret, c.fingerprint, c.via]);
  }
});
