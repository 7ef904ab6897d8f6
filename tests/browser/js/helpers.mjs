// tests/js/helpers.mjs for the browser: the JSON files are fetched once from the test's routes.
const FILES = ['tests/vectors/protocol-v1.json', 'tests/vectors/file-v1.json', 'tests/vectors/share-v1.json', 'tests/js/ed25519-points.json'];
const cache = new Map(await Promise.all(FILES.map(async (f) => [f, await (await fetch(`/__js__/repo/${f}`)).json()])));

export function readJson(...parts) {
  const key = parts.join('/');
  if (!cache.has(key)) throw new Error(`not preloaded: ${key}`);
  return structuredClone(cache.get(key));
}

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
