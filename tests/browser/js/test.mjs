// node:test's `test(name, [options], fn)`, collected and run in order inside Chromium.
export const registered = [];

export function test(name, options, fn) {
  registered.push({ name, fn: typeof options === 'function' ? options : fn });
}

/** Run everything registered; returns [{name, ok, error}]. */
export async function run() {
  const results = [];
  for (const { name, fn } of registered) {
    try {
      await fn({ name });
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: `${e?.code ?? ''} ${e?.message ?? e}` });
    }
  }
  return results;
}
