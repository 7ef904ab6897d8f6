// The therapist's appointment tools (app/views/appointments-edit.mjs): a Helsinki wall time
// becomes ISO 8601 with the offset in force that day (summer +03:00, winter +02:00), and a weekly
// series keeps its wall time across the change of clocks.
import assert from 'node:assert/strict';
import { test } from 'node:test';

const appDir = '../../src/secure_msg/web/static/app';
globalThis.navigator ??= { language: 'en' }; // i18n.mjs reads it at import (Node 20 has none)
const { addWeeks, helsinkiIso } = await import(`${appDir}/views/appointments-edit.mjs`);

test('Helsinki wall time gets the offset of its own day', () => {
  assert.equal(helsinkiIso('2026-05-13', '14:30'), '2026-05-13T14:30:00+03:00');
  assert.equal(helsinkiIso('2026-01-07', '08:05'), '2026-01-07T08:05:00+02:00');
  assert.equal(Date.parse(helsinkiIso('2026-05-13', '14:30')), Date.UTC(2026, 4, 13, 11, 30));
  // another zone, to show the rule is not a fixed +2/+3
  assert.equal(helsinkiIso('2026-07-01', '09:00', 'America/New_York'), '2026-07-01T09:00:00-04:00');
});

test('a weekly series keeps its wall time across the clock change', () => {
  const days = [0, 1, 2, 3].map((i) => addWeeks('2026-10-14', i));
  assert.deepEqual(days, ['2026-10-14', '2026-10-21', '2026-10-28', '2026-11-04']);
  assert.deepEqual(days.map((d) => helsinkiIso(d, '14:00').slice(11)),
    ['14:00:00+03:00', '14:00:00+03:00', '14:00:00+02:00', '14:00:00+02:00']);
  assert.equal(addWeeks('2026-12-30', 1), '2027-01-06');
});
