// Shared by the JS tests: paths relative to the repository root, and byte helpers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cryptoDir = path.join(repoRoot, 'src', 'secure_msg', 'web', 'static', 'crypto');

/** @param {...string} parts path under the repository root */
export function readJson(...parts) {
  return JSON.parse(readFileSync(path.join(repoRoot, ...parts), 'utf8'));
}

/** The standard vectors (RFC 9180, Wycheproof), vendored with their licences. */
export function standardVectors(name) {
  return readJson('tests', 'vectors', 'standard', name);
}

/** An rng that hands out the given byte strings in order and fails loudly if asked for anything else. */
export function scriptedRng(...chunks) {
  const queue = [...chunks];
  const rng = (n) => {
    const next = queue.shift();
    if (!next || next.length !== n) throw new Error(`scripted rng: asked for ${n} bytes, had ${next?.length}`);
    return next.slice();
  };
  rng.remaining = () => queue.length;
  return rng;
}
