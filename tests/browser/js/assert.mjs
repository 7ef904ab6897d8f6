// The subset of node:assert/strict the protocol tests use, for running them inside Chromium.
class AssertionError extends Error {}

const fail = (msg) => { throw new AssertionError(msg); };
const show = (v) => { try { return JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? `bytes(${[...x]})` : typeof x === 'bigint' ? `${x}n` : x)); } catch { return String(v); } };

function deepEq(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEq(a[k], b[k]));
}

function matches(err, expected) {
  if (expected === undefined) return true;
  if (typeof expected === 'function' && expected.prototype instanceof Error) return err instanceof expected;
  if (typeof expected === 'function') return expected(err) === true;
  if (expected instanceof RegExp) return expected.test(String(err?.message ?? err));
  return Object.entries(expected).every(([k, v]) => (v instanceof RegExp ? v.test(err?.[k]) : deepEq(err?.[k], v)));
}

const assert = {
  equal: (a, b, m) => Object.is(a, b) || fail(m ?? `${show(a)} !== ${show(b)}`),
  notEqual: (a, b, m) => !Object.is(a, b) || fail(m ?? `${show(a)} === ${show(b)}`),
  deepEqual: (a, b, m) => deepEq(a, b) || fail(m ?? `${show(a)} not deep-equal ${show(b)}`),
  notDeepEqual: (a, b, m) => !deepEq(a, b) || fail(m ?? `${show(a)} deep-equals ${show(b)}`),
  ok: (v, m) => Boolean(v) || fail(m ?? `not truthy: ${show(v)}`),
  match: (s, re, m) => re.test(s) || fail(m ?? `${show(s)} does not match ${re}`),
  throws(fn, expected, m) {
    try { fn(); } catch (e) { if (!matches(e, expected)) fail(m ?? `wrong error: ${e?.code ?? e}`); return; }
    fail(m ?? 'did not throw');
  },
  async rejects(p, expected, m) {
    try { await (typeof p === 'function' ? p() : p); } catch (e) { if (!matches(e, expected)) fail(m ?? `wrong rejection: ${e?.code ?? e}`); return; }
    fail(m ?? 'did not reject');
  },
};
export default assert;
