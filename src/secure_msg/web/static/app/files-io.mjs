/**
 * Files of document entries on this device (docs/protocol.md §4.7, §10.6): encrypt a chosen
 * file and upload its blob; download a blob and decrypt and check it. Loaded on first use, with
 * crypto/file-stream.mjs, so the pages that never touch a file do not fetch either.
 */
import { FileDecryptor, FileEncryptor } from '../crypto/file-stream.mjs';
import { fromHex, toHex } from '../crypto/encoding.mjs';
import { ProtocolError } from '../crypto/errors.mjs';
import { ApiError, auth } from './api.mjs';

/** Read and encrypted a MiB at a time: the plaintext is read once, never copied whole. */
const PIECE = 1 << 20;

/** A non-2xx answer as api.mjs makes it. @param {Response} resp @param {string} path */
async function failed(resp, path) {
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && auth.token && !path.startsWith('/api/log')) auth.onUnauthorized();
  return new ApiError(resp.status, String(data.type ?? 'http-error'), String(data.title ?? resp.statusText), data);
}

/** @param {string} path @param {RequestInit} init */
async function request(path, init) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/octet-stream, application/json', ...(/** @type {any} */ (init.headers) ?? {}) };
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  let resp;
  try {
    resp = await fetch(path, { ...init, headers, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'network');
  }
  if (!resp.ok) throw await failed(resp, path);
  return resp;
}

/**
 * @typedef {{blob_id: string, file_id: string, key: string, name: string, media_type: string,
 *   size: number, sha256: string}} Attachment
 */

/**
 * Encrypt `file` for the booklet and upload its blob (pending until an entry lists it).
 * `progress(done)` is told the plaintext bytes encrypted so far.
 * @param {string} bookletId @param {File} file @param {string} mediaType
 * @param {(done: number) => void} [progress] @returns {Promise<Attachment>}
 */
export async function uploadFile(bookletId, file, mediaType, progress) {
  const enc = await FileEncryptor.create(fromHex(bookletId));
  /** @type {Uint8Array[]} */
  const parts = [];
  for (let at = 0; at < file.size; at += PIECE) {
    const out = await enc.update(new Uint8Array(await file.slice(at, at + PIECE).arrayBuffer()));
    if (out.length) parts.push(out);
    progress?.(Math.min(file.size, at + PIECE));
  }
  parts.push(await enc.finish());
  // A Blob body gets its Content-Length (§10.6 takes no chunked upload).
  const body = new Blob(parts, { type: 'application/octet-stream' });
  parts.length = 0;
  const resp = await request(`/api/booklets/${bookletId}/blobs`, {
    method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' },
  });
  const stored = await resp.json();
  return {
    blob_id: String(stored.id), file_id: toHex(enc.fileId), key: toHex(enc.fileKey), name: file.name,
    media_type: mediaType, size: enc.size, sha256: toHex(enc.sha256),
  };
}

/**
 * Download one attachment's blob and decrypt it through §4.7's checks, a piece at a time as it
 * arrives. The plaintext comes back only when every check has passed (else a ProtocolError).
 * @param {string} bookletId @param {Attachment} a @returns {Promise<Uint8Array[]>}
 */
export async function fetchFile(bookletId, a) {
  const dec = await FileDecryptor.create({
    fileKey: fromHex(a.key), bookletId: fromHex(bookletId), fileId: fromHex(a.file_id), size: a.size, sha256: fromHex(a.sha256),
  });
  const resp = await request(`/api/booklets/${bookletId}/blobs/${encodeURIComponent(a.blob_id)}`, { method: 'GET' });
  if (!resp.body) throw new ProtocolError('file-truncated', 'no body');
  const reader = resp.body.getReader();
  /** @type {Uint8Array[]} */
  const parts = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const out = await dec.update(value);
      if (out.length) parts.push(out);
    }
    await dec.finish();
  } catch (e) {
    reader.cancel().catch(() => {});
    parts.length = 0;
    throw e;
  }
  return parts;
}
