// Browser-protocol costs under Node's WebCrypto: a 4 KiB entry to 5 recipients, and PBKDF2 600 000.
// Reported as ops/s and as multiples of one raw Ed25519 verify measured in the same run, so the
// figures compare with bench/crypto.py. Calls are awaited one at a time, as a browser tab makes them.
// Run: `make bench` or `node bench/crypto.mjs`.
import {
  AccountKeys, KIND, KeyBundle, derivePasswordKeys, encodePayload, openEntry, randomBytes, sealEntry, verifyEntry,
} from '../src/secure_msg/web/static/crypto/index.mjs';

const subtle = globalThis.crypto.subtle;
const BOOKLET = new Uint8Array(16).fill(0xb0);

/** Median of five timed batches, seconds per call. */
async function perOp(fn, minSeconds = 1) {
  await fn();
  let n = 1;
  let elapsed = 0;
  while (elapsed < minSeconds / 5) {
    n *= 2;
    const start = performance.now();
    for (let i = 0; i < n; i++) await fn();
    elapsed = (performance.now() - start) / 1e3;
  }
  const samples = [];
  for (let s = 0; s < 5; s++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await fn();
    samples.push((performance.now() - start) / 1e3 / n);
  }
  return samples.sort((a, b) => a - b)[2];
}

const members = await Promise.all([1, 2, 3, 4, 5].map((i) => AccountKeys.fromBundle(KeyBundle.generate(new Uint8Array(16).fill(i)))));
const [author] = members;
const recipients = members.map((m) => ({ accountId: m.accountId, encryptionKey: m.encryptionPublic }));
const plaintext = encodePayload(KIND.note, { text: 'x'.repeat(4096 - 25) });
const seal = () => sealEntry(author, {
  bookletId: BOOKLET, entryId: randomBytes(16), kind: KIND.note, sequence: 1, prevHash: new Uint8Array(32),
  createdAt: 1, plaintext, recipients,
});
const sealed = await seal();

const pair = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
const message = new Uint8Array(64).fill(0x6d);
const signature = await subtle.sign('Ed25519', pair.privateKey, message);
const rawPublic = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));

const base = await perOp(() => subtle.verify('Ed25519', pair.publicKey, signature, message));
const rows = {
  'raw Ed25519 verify (baseline)': base,
  'Ed25519 import raw key + verify': await perOp(async () => {
    const key = await subtle.importKey('raw', rawPublic, { name: 'Ed25519' }, false, ['verify']);
    return subtle.verify('Ed25519', key, signature, message);
  }),
  'seal + sign (4 KiB, 5 recipients)': await perOp(seal),
  'server verify': await perOp(() => verifyEntry(sealed, {
    authorIdentityKey: author.identityPublic, bookletId: BOOKLET, authorId: author.accountId, recipients,
  })),
  'recipient open': await perOp(() => openEntry(sealed, {
    authorIdentityKey: author.identityPublic, authorId: author.accountId, bookletId: BOOKLET, me: members[3],
  })),
  'PBKDF2-SHA256 600 000 (client, once per login)': await perOp(
    () => derivePasswordKeys('pw', { salt: new Uint8Array(16).fill(0x73), iterations: 600000 }), 3,
  ),
};

console.log(`Node ${process.version}, WebCrypto`);
console.log(`${'operation'.padEnd(50)} ${'ops/s'.padStart(10)} ${'ms/op'.padStart(9)} ${'x Ed25519 verify'.padStart(17)}`);
for (const [name, t] of Object.entries(rows)) {
  console.log(`${name.padEnd(50)} ${(1 / t).toFixed(0).padStart(10)} ${(t * 1e3).toFixed(3).padStart(9)} ${(t / base).toFixed(1).padStart(17)}`);
}
