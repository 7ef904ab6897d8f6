// The sealed client state (docs/protocol.md §6.5) in the browser: crypto/client-state.mjs and
// app/state-merge.mjs, written from the spec; the vectors part runs S1's
// tests/vectors/client-state-v1.json, which the Python implementation passes too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deriveStateKey, emptyState, encodeState, openState, parseState, peekHeader, sealState,
} from '../../src/secure_msg/web/static/crypto/client-state.mjs';
import { fromHex, toHex, utf8 } from '../../src/secure_msg/web/static/crypto/encoding.mjs';
import { AccountKeys, KeyBundle } from '../../src/secure_msg/web/static/crypto/keys.mjs';
import { KeyStore, memoryBackend } from '../../src/secure_msg/web/static/crypto/keystore.mjs';
import { LABEL } from '../../src/secure_msg/web/static/crypto/labels.mjs';
import { hkdf, randomBytes } from '../../src/secure_msg/web/static/crypto/primitives.mjs';
import { merge } from '../../src/secure_msg/web/static/app/state-merge.mjs';
import { readJson } from './helpers.mjs';

const V = readJson('tests', 'vectors', 'client-state-v1.json');

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);
const K1 = '1'.repeat(64);
const K2 = '2'.repeat(64);
const H1 = 'e'.repeat(64);
const H2 = 'f'.repeat(64);

let ran = 0;
const counted = (fn) => async () => {
  await fn();
  ran += 1;
};

for (const c of V.seal) {
  test(`seal vector: ${c.name}`, counted(async () => {
    const key = await deriveStateKey(fromHex(c.identity_seed));
    assert.equal(key.extractable, false);
    assert.equal(toHex(await hkdf(fromHex(c.identity_seed), LABEL.CLIENT_STATE_KEY)), c.state_key);
    assert.equal(toHex(encodeState(c.state)), c.plaintext);
    const blob = await sealState(key, { accountId: fromHex(c.account_id), version: c.version, state: c.state }, () => fromHex(c.nonce));
    assert.equal(toHex(blob), c.blob);
    const opened = await openState(key, fromHex(c.account_id), blob);
    assert.equal(opened.version, c.version);
    assert.deepEqual(opened.state, c.state);
  }));
}

for (const c of V.open) {
  test(`open vector: ${c.name}`, counted(async () => {
    const opened = await openState(fromHex(c.state_key), fromHex(c.account_id), fromHex(c.blob));
    assert.equal(opened.version, c.version);
    assert.equal(toHex(opened.plaintext), c.plaintext);
    assert.deepEqual(opened.state, c.state);
    assert.deepEqual(parseState(fromHex(c.plaintext)), c.state);
  }));
}

for (const c of V.open_negative) {
  test(`open_negative vector: ${c.name} (${c.code})`, counted(async () => {
    const blob = fromHex(c.blob);
    if (c.peek === null) peekHeader(blob);
    else assert.throws(() => peekHeader(blob), { code: c.peek });
    await assert.rejects(openState(fromHex(c.state_key), fromHex(c.account_id), blob), { code: c.code });
    if (c.plaintext !== undefined) assert.throws(() => parseState(fromHex(c.plaintext)), { code: c.code });
  }));
}

for (const c of V.merge) {
  test(`merge vector: ${c.name}`, counted(() => {
    const out = merge(c.local, c.stored);
    assert.deepEqual(out, { state: c.expected, pinConflicts: c.pin_conflicts, checkpointConflicts: c.checkpoint_conflicts });
  }));
}

test('every client-state vector ran', () => {
  const all = V.seal.length + V.open.length + V.open_negative.length + V.merge.length;
  assert.ok(V.seal.length >= 3 && V.open_negative.length >= 20 && V.merge.length >= 20, 'sections present');
  assert.equal(ran, all);
});

const pin = (over = {}) => ({ identity_key: K1, verified: false, name: 'Maija', name_pinned: true, roles: { [B]: 'guardian' }, key_conflict: false, ...over });
const withPins = (pins) => ({ ...emptyState(), pins });
const withCheckpoints = (checkpoints) => ({ ...emptyState(), checkpoints });

async function account() {
  const bundle = KeyBundle.generate(randomBytes(16));
  const keys = await AccountKeys.fromBundle(bundle);
  return { bundle, keys };
}

const sample = () => ({
  v: 1,
  pins: { [A]: pin({ name: 'Äiti “Ö”' }) },
  checkpoints: { [B]: { seq: 12, entry_hash: H1, joined_seq: 0, accepted: 0 } },
  sealed_to: { [B]: [A, C] },
});

test('the state key is non-extractable, made when a bundle is opened, and equals HKDF(seed, label)', async () => {
  const { bundle, keys } = await account();
  assert.equal(keys.stateKey.extractable, false);
  assert.deepEqual(keys.stateKey.usages.sort(), ['decrypt', 'encrypt']);
  await assert.rejects(globalThis.crypto.subtle.exportKey('raw', keys.stateKey));
  const raw = await hkdf(bundle.identitySeed, LABEL.CLIENT_STATE_KEY);
  const blob = await sealState(keys.stateKey, { accountId: keys.accountId, version: 3, state: sample() });
  assert.deepEqual((await openState(raw, keys.accountId, blob)).state, sample());
});

test('after a reload the key store gives back the same state key, still non-extractable', async () => {
  const backend = memoryBackend();
  const { bundle, keys } = await account();
  await (await KeyStore.open({ backend })).save(bundle);
  const blob = await sealState(keys.stateKey, { accountId: keys.accountId, version: 1, state: sample() });
  const loaded = await (await KeyStore.open({ backend })).load(keys.accountId);
  assert.equal(loaded.stateKey.extractable, false);
  const opened = await openState(loaded.stateKey, keys.accountId, blob);
  assert.equal(opened.version, 1);
  assert.deepEqual(opened.state, sample());
});

test('sealing writes the layout of §6.5: prefix, account, version, nonce, ct_len, then the ciphertext', async () => {
  const { keys } = await account();
  const nonce = randomBytes(12);
  const blob = await sealState(keys.stateKey, { accountId: keys.accountId, version: 7, state: sample() }, () => nonce.slice());
  const plain = encodeState(sample());
  assert.equal(toHex(blob.subarray(0, 4)), '01000140');
  assert.deepEqual(blob.subarray(4, 20), keys.accountId);
  assert.equal(toHex(blob.subarray(20, 28)), '0000000000000007');
  assert.deepEqual(blob.subarray(28, 40), nonce);
  assert.equal(new DataView(blob.buffer, 40, 4).getUint32(0), plain.length + 16);
  assert.equal(blob.length, 44 + plain.length + 16);
  const head = peekHeader(blob);
  assert.equal(head.version, 7);
  assert.deepEqual(head.accountId, keys.accountId);
});

test('encodeState writes sorted keys, no spaces, UTF-8 (not \\u escapes), and a missing key_conflict or accepted as false or 0', () => {
  const state = sample();
  delete state.pins[A].key_conflict;
  delete state.checkpoints[B].accepted;
  const text = utf8.decode(encodeState(state));
  assert.equal(text, `{"checkpoints":{"${B}":{"accepted":0,"entry_hash":"${H1}","joined_seq":0,"seq":12}},`
    + `"pins":{"${A}":{"identity_key":"${K1}","key_conflict":false,"name":"Äiti “Ö”","name_pinned":true,"roles":{"${B}":"guardian"},"verified":false}},`
    + `"sealed_to":{"${B}":["${A}","${C}"]},"v":1}`);
});

test('encodeState refuses a state another client would refuse to open, and seals nothing', async () => {
  const { keys } = await account();
  const bad = sample();
  bad.sealed_to[B] = [C, A];
  assert.throws(() => encodeState(bad), { code: 'bad-payload' });
  await assert.rejects(sealState(keys.stateKey, { accountId: keys.accountId, version: 1, state: bad }), { code: 'bad-payload' });
  await assert.rejects(sealState(keys.stateKey, { accountId: keys.accountId, version: 0, state: sample() }), { code: 'malformed' });
});

test('parseState ignores members it does not know and accepts any order and spacing', () => {
  const text = ` { "v" : 1, "extra": [1], "sealed_to": {}, "checkpoints": {},
    "pins": {"${A}": {"roles": {}, "name": null, "name_pinned": false, "verified": true, "identity_key": "${K1}", "later": 1}} } `;
  assert.deepEqual(parseState(utf8.encode(text)), withPins({ [A]: { identity_key: K1, verified: true, name: null, name_pinned: false, roles: {}, key_conflict: false } }));
});

/** A field of the sample set to `value` (undefined deletes it): the state must not parse. */
const broken = [
  ['v 2', (s) => { s.v = 2; }],
  ['v "1"', (s) => { s.v = '1'; }],
  ['no pins', (s) => { delete s.pins; }],
  ['sealed_to a list', (s) => { s.sealed_to = []; }],
  ['upper-case account id', (s) => { s.pins = { [A.toUpperCase()]: pin() }; }],
  ['short identity key', (s) => { s.pins[A].identity_key = K1.slice(2); }],
  ['identity key as a list', (s) => { s.pins[A].identity_key = [K1]; }],
  ['verified "yes"', (s) => { s.pins[A].verified = 'yes'; }],
  ['name a number', (s) => { s.pins[A].name = 5; }],
  ['no name_pinned', (s) => { delete s.pins[A].name_pinned; }],
  ['unknown role', (s) => { s.pins[A].roles[B] = 'admin'; }],
  ['key_conflict null', (s) => { s.pins[A].key_conflict = null; }],
  ['seq 0', (s) => { s.checkpoints[B].seq = 0; }],
  ['seq 1.5', (s) => { s.checkpoints[B].seq = 1.5; }],
  ['joined_seq -1', (s) => { s.checkpoints[B].joined_seq = -1; }],
  ['no joined_seq', (s) => { delete s.checkpoints[B].joined_seq; }],
  ['entry hash upper-case', (s) => { s.checkpoints[B].entry_hash = H1.toUpperCase(); }],
  ['sealed_to unsorted', (s) => { s.sealed_to[B] = [C, A]; }],
  ['sealed_to repeated', (s) => { s.sealed_to[B] = [A, A]; }],
  ['sealed_to a number', (s) => { s.sealed_to[B] = [1]; }],
  ['__proto__ as an id', (s) => { s.pins = JSON.parse(`{"__proto__": ${JSON.stringify(pin())}}`); }],
];
for (const [name, change] of broken) {
  test(`parseState refuses ${name} (bad-payload)`, () => {
    const s = sample();
    change(s);
    assert.throws(() => parseState(utf8.encode(JSON.stringify(s))), { code: 'bad-payload' });
  });
}

test('an integer written as 3.0 or 3e0 is refused where §6.5 asks for one, and ignored in unknown members', () => {
  const text = (seq, extra = '') => `{"v":1,"pins":{},"sealed_to":{},${extra}"checkpoints":{"${B}":{"seq":${seq},"entry_hash":"${H1}","joined_seq":0}}}`;
  assert.equal(parseState(utf8.encode(text('3'))).checkpoints[B].seq, 3);
  for (const seq of ['3.0', '3e0', '0.3E1', '-0.0']) {
    assert.throws(() => parseState(utf8.encode(text(seq))), { code: 'bad-payload' }, seq);
  }
  assert.throws(() => parseState(utf8.encode('{"v":1.0,"pins":{},"checkpoints":{},"sealed_to":{}}')), { code: 'bad-payload' });
  const extra = '"later":[1.5,2e3,{"s":"a \\" 1.0 \\\\"}],';
  assert.equal(parseState(utf8.encode(text('3', extra))).checkpoints[B].seq, 3);
  assert.throws(() => parseState(utf8.encode(text('3', '"later":1.,'))), { code: 'bad-payload' });
});

test('parseState refuses bytes that are not UTF-8 or not JSON (bad-payload)', () => {
  assert.throws(() => parseState(Uint8Array.of(0xff, 0x7b, 0x7d)), { code: 'bad-payload' });
  assert.throws(() => parseState(utf8.encode('{"v":1,')), { code: 'bad-payload' });
  assert.throws(() => parseState(utf8.encode('null')), { code: 'bad-payload' });
});

/** A sealed blob with `edit` applied to its bytes, for the negative cases. */
async function tampered(edit) {
  const { keys } = await account();
  const blob = await sealState(keys.stateKey, { accountId: keys.accountId, version: 2, state: sample() });
  return { keys, blob: edit(blob.slice()) };
}
const setU32 = (b, at, v) => { new DataView(b.buffer, b.byteOffset).setUint32(at, v); return b; };

const negatives = [
  ['3 bytes', 'truncated', (b) => b.subarray(0, 3)],
  ['version 2', 'unsupported-version', (b) => { b[0] = 2; return b; }],
  ['suite 2', 'unsupported-suite', (b) => { b[2] = 2; return b; }],
  ['a key bundle type', 'wrong-type', (b) => { b[3] = 0x03; return b; }],
  ['a missing last byte', 'truncated', (b) => b.subarray(0, b.length - 1)],
  ['a header cut short', 'truncated', (b) => b.subarray(0, 42)],
  ['one byte more', 'trailing-data', (b) => Uint8Array.from([...b, 0])],
  ['ct_len 15 (with 15 bytes)', 'malformed', (b) => setU32(b, 40, 15).subarray(0, 44 + 15)],
  ['version 0', 'malformed', (b) => { b.fill(0, 20, 28); return b; }],
  ['version above 2^53', 'malformed', (b) => { b.fill(0xff, 20, 28); return b; }],
  ['a changed version', 'state-decrypt-failed', (b) => { b[27] ^= 1; return b; }],
  ['a changed nonce', 'state-decrypt-failed', (b) => { b[30] ^= 1; return b; }],
  ['a changed ciphertext byte', 'state-decrypt-failed', (b) => { b[50] ^= 1; return b; }],
];
for (const [name, code, edit] of negatives) {
  test(`openState refuses ${name} (${code}), before using the key where the layout is at fault`, async () => {
    const { keys, blob } = await tampered(edit);
    await assert.rejects(openState(keys.stateKey, keys.accountId, blob), { code });
  });
}

test('ct_len above 1 048 592 is malformed even when the bytes are all there', async () => {
  const { keys } = await account();
  const blob = new Uint8Array(44 + 1048593);
  blob.set(fromHex('01000140'));
  blob.set(keys.accountId, 4);
  blob[27] = 1;
  setU32(blob, 40, 1048593);
  assert.throws(() => peekHeader(blob), { code: 'malformed' });
  await assert.rejects(openState(keys.stateKey, keys.accountId, blob), { code: 'malformed' });
});

test("another account's blob is account-mismatch before any decryption; another key is state-decrypt-failed", async () => {
  const me = await account();
  const other = await account();
  const theirs = await sealState(other.keys.stateKey, { accountId: other.keys.accountId, version: 1, state: sample() });
  await assert.rejects(openState(me.keys.stateKey, me.keys.accountId, theirs), { code: 'account-mismatch' });
  const relabelled = theirs.slice();
  relabelled.set(me.keys.accountId, 4);
  await assert.rejects(openState(me.keys.stateKey, me.keys.accountId, relabelled), { code: 'state-decrypt-failed' });
});

test('a sealed state that is not valid JSON state opens to bad-payload', async () => {
  const { bundle, keys } = await account();
  const raw = await hkdf(bundle.identitySeed, LABEL.CLIENT_STATE_KEY);
  // Sealed by hand, around encodeState's own checks: v is 2.
  const { aesGcmEncrypt } = await import('../../src/secure_msg/web/static/crypto/primitives.mjs');
  const plain = utf8.encode('{"checkpoints":{},"pins":{},"sealed_to":{},"v":2}');
  const head = new Uint8Array(44);
  head.set(fromHex('01000140'));
  head.set(keys.accountId, 4);
  head[27] = 1;
  setU32(head, 40, plain.length + 16);
  const blob = Uint8Array.from([...head, ...await aesGcmEncrypt(raw, head.subarray(28, 40), plain, head)]);
  await assert.rejects(openState(keys.stateKey, keys.accountId, blob), { code: 'bad-payload' });
});

// merge (§6.5), beyond the shared vectors

test('merge: a pin on one side only is taken as it is; the same key verifies if either side did', () => {
  const local = withPins({ [A]: pin({ verified: true, name: 'Local', roles: { [C]: 'caregiver' } }), [C]: pin({ identity_key: K2 }) });
  const stored = withPins({ [A]: pin({ roles: { [B]: 'therapist' } }) });
  const { state, pinConflicts } = merge(local, stored);
  assert.deepEqual(pinConflicts, []);
  assert.deepEqual(state.pins[A], pin({ verified: true, name: 'Maija', roles: { [B]: 'therapist', [C]: 'caregiver' } }));
  assert.deepEqual(state.pins[C], pin({ identity_key: K2 }));
});

test('merge: stored name and role win where both have one', () => {
  const local = withPins({ [A]: pin({ name: null, name_pinned: false, roles: { [B]: 'caregiver' } }) });
  const stored = withPins({ [A]: pin({ name: 'Maija', roles: { [B]: 'guardian' } }) });
  assert.deepEqual(merge(local, stored).state.pins[A], pin({ name: 'Maija', roles: { [B]: 'guardian' } }));
});

test('merge: different keys, one side verified, keeps that pin whole; none or both verified is a pin-conflict', () => {
  const verifiedLocal = pin({ verified: true, name: 'Local', roles: {} });
  assert.deepEqual(merge(withPins({ [A]: verifiedLocal }), withPins({ [A]: pin({ identity_key: K2 }) })),
    { state: withPins({ [A]: verifiedLocal }), pinConflicts: [], checkpointConflicts: [] });
  const verifiedStored = pin({ identity_key: K2, verified: true });
  assert.deepEqual(merge(withPins({ [A]: pin() }), withPins({ [A]: verifiedStored })).state.pins[A], verifiedStored);
  for (const verified of [false, true]) {
    const out = merge(withPins({ [A]: pin({ verified, name: 'Local' }) }), withPins({ [A]: pin({ identity_key: K2, verified }) }));
    assert.deepEqual(out.pinConflicts, [A]);
    assert.deepEqual(out.state.pins[A], pin({ identity_key: K2, verified: false, key_conflict: true }));
  }
});

test('merge: with the same key a key_conflict stays until the merged pin is verified', () => {
  const conflicted = pin({ key_conflict: true });
  assert.equal(merge(withPins({ [A]: conflicted }), withPins({ [A]: pin() })).state.pins[A].key_conflict, true);
  assert.equal(merge(withPins({ [A]: pin() }), withPins({ [A]: conflicted })).state.pins[A].key_conflict, true);
  const cleared = merge(withPins({ [A]: pin({ verified: true }) }), withPins({ [A]: conflicted })).state.pins[A];
  assert.deepEqual([cleared.verified, cleared.key_conflict], [true, false]);
  const { key_conflict: _, ...old } = pin();
  assert.equal(merge(withPins({ [A]: old }), withPins({ [A]: old })).state.pins[A].key_conflict, false);
});

test('merge: checkpoints keep the higher seq, then the higher joined_seq; another hash at one seq keeps local, a conflict', () => {
  const cp = (seq, entry_hash, joined_seq = 0) => ({ seq, entry_hash, joined_seq, accepted: 0 });
  const local = withCheckpoints({ [A]: cp(5, H1), [B]: cp(3, H1, 1), [C]: cp(4, H1) });
  const stored = withCheckpoints({ [A]: cp(7, H2, 2), [B]: cp(3, H1, 2), [C]: cp(4, H2, 9), [K1.slice(0, 32)]: cp(1, H2) });
  const out = merge(local, stored);
  assert.deepEqual(out.state.checkpoints, { [A]: cp(7, H2, 2), [B]: cp(3, H1, 2), [C]: cp(4, H1), [K1.slice(0, 32)]: cp(1, H2) });
  assert.deepEqual(out.checkpointConflicts, [C]);
});

test('merge: a checkpoint without an accepted count counts as 0 on either side, so the seq still decides', () => {
  const { accepted: _, ...old } = { seq: 9, entry_hash: H1, joined_seq: 0, accepted: 0 };
  const newer = { seq: 3, entry_hash: H2, joined_seq: 0, accepted: 0 };
  const expected = { [A]: { ...old, accepted: 0 } };
  assert.deepEqual(merge(withCheckpoints({ [A]: old }), withCheckpoints({ [A]: newer })).state.checkpoints, expected);
  assert.deepEqual(merge(withCheckpoints({ [A]: newer }), withCheckpoints({ [A]: old })).state.checkpoints, expected);
  const accepted = { ...newer, accepted: 1 };
  assert.deepEqual(merge(withCheckpoints({ [A]: old }), withCheckpoints({ [A]: accepted })).state.checkpoints, { [A]: accepted });
});

test('merge: sealed_to is the sorted union; merging is deterministic and a merged state encodes', () => {
  const local = { ...emptyState(), sealed_to: { [B]: [C], [A]: [A] } };
  const stored = { ...emptyState(), sealed_to: { [B]: [A, C] } };
  const out = merge(local, stored);
  assert.deepEqual(out.state.sealed_to, { [A]: [A], [B]: [A, C] });
  assert.deepEqual(encodeState(merge(local, stored).state), encodeState(out.state));
  assert.deepEqual(merge(out.state, out.state).state, out.state);
});

test('merge does not change its inputs', () => {
  const local = sample();
  const stored = { ...sample(), pins: { [A]: pin({ identity_key: K2 }) } };
  const before = JSON.stringify([local, stored]);
  const out = merge(local, stored);
  out.state.pins[A].roles[C] = 'caregiver';
  out.state.sealed_to[B].push(K1);
  assert.equal(JSON.stringify([local, stored]), before);
});

// The web session's side: its records as §6.5's JSON and back, and a key conflict in use.

globalThis.navigator ??= /** @type {Navigator} */ ({ language: 'en' }); // app/i18n.mjs reads it on import
const { fromWire, toWire } = await import('../../src/secure_msg/web/static/app/state-sync.mjs');
const { keyChanged, withKey } = await import('../../src/secure_msg/web/static/app/pins.mjs');
const { checkHistory } = await import('../../src/secure_msg/web/static/app/history.mjs');

test("the session's pins, checkpoints and sealed-to records go to §6.5's JSON and back unchanged", () => {
  const local = {
    pins: {
      [A]: { ik: K1, verified: true, name: 'Äiti', roles: { [B]: 'guardian' } },
      [C]: { ik: K2, verified: false, name: null, roles: {}, keyConflict: true },
      [B]: { ik: K1, verified: false, roles: { [C]: 'therapist' } }, // made before names were pinned
    },
    checkpoints: { [B]: { seq: 4, entryHash: H1, joinedSeq: 2, accepted: 1 } },
    sealedTo: { [B]: [A, C] },
  };
  const wire = toWire(local);
  assert.deepEqual(wire.pins[B], { identity_key: K1, verified: false, name: null, name_pinned: false, roles: { [C]: 'therapist' }, key_conflict: false });
  assert.deepEqual(wire.pins[C].key_conflict, true);
  assert.deepEqual(parseState(encodeState(wire)), wire);
  assert.deepEqual(fromWire(wire), local);
});

test('records a reader would refuse are left out of the JSON, so one damaged record cannot stop every write', () => {
  const wire = toWire({
    pins: { [A]: { ik: 'zz', verified: false }, nope: { ik: K1, verified: false }, [B]: { ik: K1, verified: true, keyConflict: true, roles: { [C]: 'admin' } } },
    checkpoints: { [A]: { seq: 0, entryHash: H1 }, [B]: { seq: 2, entryHash: H1 }, [C]: null },
    sealedTo: { [A]: [C, A, A, 'x', 5], [B]: 'no' },
  });
  assert.deepEqual(wire, {
    v: 1,
    pins: { [B]: { identity_key: K1, verified: true, name: null, name_pinned: false, roles: {}, key_conflict: false } },
    checkpoints: { [B]: { seq: 2, entry_hash: H1, joined_seq: 0, accepted: 0 } },
    sealed_to: { [A]: [A, C] },
  });
  encodeState(wire);
});

test('a pin in key conflict counts as a changed key until verified in person, which clears it', () => {
  const pin = { ik: K1, verified: false, name: 'Maija', roles: { [B]: 'guardian' }, keyConflict: true };
  assert.equal(keyChanged(pin, K1), true);
  assert.equal(keyChanged({ ...pin, keyConflict: undefined }, K1), false);
  assert.equal(keyChanged({ ...pin, keyConflict: undefined }, K2), true);
  assert.deepEqual(withKey(pin, K2, false), { ...pin, ik: K2 });
  const verified = withKey(pin, K1, true);
  assert.deepEqual(verified, { ik: K1, verified: true, name: 'Maija', roles: { [B]: 'guardian' } });
  assert.equal(keyChanged(verified, K1), false);
});

test('a checkpoint another device had with another entry is reported as history-rewritten and does not move', () => {
  const checkpoint = { seq: 2, entryHash: H1, joinedSeq: 0, conflict: true };
  const items = [{ seq: 3, prevHash: H1, entryHash: H2 }];
  const out = checkHistory({ since: 2, lastSeq: 3, joinedSeq: 0, checkpoint, items });
  assert.deepEqual(out.problems, [{ code: 'history-rewritten', seq: 2 }]);
  assert.equal(out.checkpoint, checkpoint);
  const clean = checkHistory({ since: 2, lastSeq: 3, joinedSeq: 0, checkpoint: { ...checkpoint, conflict: undefined }, items });
  assert.deepEqual([clean.problems, clean.checkpoint], [[], { seq: 3, entryHash: H2, joinedSeq: 0 }]);
});

test('KeyStore.wipe empties the store without making a device key, even when it is empty already', async () => {
  const backend = memoryBackend();
  const { bundle } = await account();
  await (await KeyStore.open({ backend })).save(bundle);
  await KeyStore.wipe({ backend });
  assert.equal(await backend.get('device-key'), undefined);
  assert.equal(await backend.get(`bundle:${toHex(bundle.accountId)}`), undefined);
  await KeyStore.wipe({ backend });
  assert.equal(await backend.get('device-key'), undefined);
});

test('accepting a history counts one above the checkpoint it replaces, and later reads carry the count on', async () => {
  const session = await import('../../src/secure_msg/web/static/app/session.mjs');
  const { state } = session;
  Object.assign(state, { account: { id: A, login: 'aiti' }, keys: null, memoryOnly: true, pins: {}, sealedTo: {}, checkpoints: {}, checkpointConflicts: new Set() });
  session.setCheckpoint(B, { seq: 9, entryHash: H1, joinedSeq: 0 });
  assert.deepEqual(session.getCheckpoint(B), { seq: 9, entryHash: H1, joinedSeq: 0 });
  state.checkpointConflicts.add(B);
  assert.equal(session.getCheckpoint(B).conflict, true);
  await session.replaceCheckpoint(B, { seq: 4, entryHash: H2, joinedSeq: 0 });
  assert.deepEqual(session.getCheckpoint(B), { seq: 4, entryHash: H2, joinedSeq: 0, accepted: 1 });
  session.setCheckpoint(B, { seq: 5, entryHash: H1, joinedSeq: 0 });
  assert.deepEqual(session.getCheckpoint(B), { seq: 5, entryHash: H1, joinedSeq: 0, accepted: 1 });
  await session.replaceCheckpoint(B, { seq: 2, entryHash: H2, joinedSeq: 1 });
  const wire = toWire({ pins: {}, checkpoints: state.checkpoints, sealedTo: {} });
  assert.deepEqual(wire.checkpoints[B], { seq: 2, entry_hash: H2, joined_seq: 1, accepted: 2 });
  // Merged with the pre-restore checkpoint another device still holds, the accepted one stays.
  const other = withCheckpoints({ [B]: { seq: 9, entry_hash: H1, joined_seq: 0, accepted: 0 } });
  assert.deepEqual(merge(wire, other).state.checkpoints[B], wire.checkpoints[B]);
  Object.assign(state, { account: null, checkpoints: {} });
});
