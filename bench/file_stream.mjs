// File blobs (docs/protocol.md §4.7) in the browser code, under Node: MB/s of encrypting and
// decrypting a 25 MB file fed in 64 KiB pieces, and the heap it takes (WebCrypto has no
// incremental SHA-256, so both keep the plaintext for the hash at the end). Run:
// `node --expose-gc bench/file_stream.mjs [MB]`.
import { FileDecryptor, FileEncryptor } from '../src/secure_msg/web/static/crypto/index.mjs';

const MB = Number(process.argv[2] ?? 25);
const size = MB * 1_000_000;
const PIECE = 65536;
const booklet = new Uint8Array(16).fill(0xb0);
const file = new Uint8Array(size);
for (let at = 0; at < size; at += 65536) globalThis.crypto.getRandomValues(file.subarray(at, Math.min(size, at + 65536)));

globalThis.gc?.();
const heap0 = process.memoryUsage();
let t = performance.now();
const enc = await FileEncryptor.create(booklet);
const parts = [];
for (let at = 0; at < size; at += PIECE) parts.push(await enc.update(file.subarray(at, at + PIECE)));
parts.push(await enc.finish());
const tEnc = performance.now() - t;
const blob = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
let off = 0;
for (const p of parts) { blob.set(p, off); off += p.length; }

t = performance.now();
const dec = await FileDecryptor.create({ fileKey: enc.fileKey, bookletId: booklet, fileId: enc.fileId, size: enc.size, sha256: enc.sha256 });
let out = 0;
for (let at = 0; at < blob.length; at += PIECE) out += (await dec.update(blob.subarray(at, at + PIECE))).length;
await dec.finish();
const tDec = performance.now() - t;
const heap1 = process.memoryUsage();
if (out !== size) throw new Error('size');
console.log(`file ${MB} MB: encrypt ${(size / tEnc / 1000).toFixed(0)} MB/s, decrypt ${(size / tDec / 1000).toFixed(0)} MB/s`);
console.log(`rss ${(heap0.rss / 1e6).toFixed(0)} → ${(heap1.rss / 1e6).toFixed(0)} MB, array buffers ${(heap1.arrayBuffers / 1e6).toFixed(0)} MB (file and blob held by the bench: ${(2 * size / 1e6).toFixed(0)} MB)`);
