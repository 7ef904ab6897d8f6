// Which addresses survive login, enrollment and recovery (app/routes.mjs): a booklet and its
// safety-number page, nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wantedRoute } from '../../src/secure_msg/web/static/app/routes.mjs';

test('a booklet address and its safety page survive login', () => {
  const b = '0123456789abcdef'.repeat(2);
  const m = 'fedcba9876543210'.repeat(2);
  assert.equal(wantedRoute(`#/b/${b}`), `/b/${b}`);
  assert.equal(wantedRoute(`#/b/${b}/safety/${m}`), `/b/${b}/safety/${m}`);
});

test('nothing else survives login: other routes, odd paths, outside addresses', () => {
  const b = '0123456789abcdef'.repeat(2);
  for (const hash of [
    '', '#', '#/', '#/login', '#/recover', '#/enroll', '#/b/../x', `#/b/${b}/../x`, `#/b/${b}/`, `#/b/${b}?x=1`,
    `#/b/${b.toUpperCase()}`, `#/b/${b}0`, `#/b/${b}/safety/`, `#/b/${b}/safety/${b}/x`, `#/b/${b}\n`,
    '#//evil.example', '#//evil.example/#/b/' + b, 'javascript:alert(1)', '#javascript:alert(1)',
    `https://evil.example/#/b/${b}`, `#/b/${b}#//evil.example`,
  ]) assert.equal(wantedRoute(hash), null, hash);
  assert.equal(wantedRoute(null), null);
  assert.equal(wantedRoute({ toString: () => `#/b/${b}` }), null);
});
