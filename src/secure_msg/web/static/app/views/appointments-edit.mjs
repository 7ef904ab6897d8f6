/**
 * The therapist's appointment tools, beside the booklet's appointment list: schedule a session or
 * a weekly series, move one, mark a past session attended or no-show, and set or edit the
 * therapy period. Times are typed and shown in Europe/Helsinki time, whatever the device's zone.
 *
 * A weekly series is N single appointments posted one after another (the API has no series): each
 * is an ordinary appointment the family can cancel on its own, and a failure part-way says how
 * many were booked. A move books the new time, then cancels the old one (the API has no move;
 * the family gets the usual cancellation text for the old time).
 */
import { api, describeError } from '../api.mjs';
import { announce, field, h, uid } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { busy, errorBox } from './common.mjs';

const ZONE = 'Europe/Helsinki';
const PAYERS = ['kela', 'municipality', 'self', 'other'];
const pad = (n) => String(n).padStart(2, '0');

/** Minutes east of UTC that `zone` is at the instant `ms`. @param {number} ms */
function zoneOffsetMinutes(ms, zone = ZONE) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

/**
 * A Helsinki wall time as ISO 8601 with its offset, e.g. 2026-05-13T14:30:00+03:00.
 * @param {string} day YYYY-MM-DD @param {string} time HH:MM
 */
export function helsinkiIso(day, time, zone = ZONE) {
  const [y, m, d] = day.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let offset = zoneOffsetMinutes(wall, zone);
  offset = zoneOffsetMinutes(wall - offset * 60_000, zone); // the offset at the real instant
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${day}T${pad(hh)}:${pad(mm)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The calendar day `weeks` weeks after `day` (YYYY-MM-DD). @param {string} day @param {number} weeks */
export function addWeeks(day, weeks) {
  const [y, m, d] = day.split('-').map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + 7 * weeks));
  return `${next.getUTCFullYear()}-${pad(next.getUTCMonth() + 1)}-${pad(next.getUTCDate())}`;
}

/** An appointment's Helsinki day and time, for prefilling a move. @param {string} iso */
function helsinkiParts(iso) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: ZONE, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return { day: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

const todayHelsinki = () => helsinkiParts(new Date().toISOString()).day;

/**
 * "Schedule a session": day, time, length, and how many weekly sessions.
 * @param {string} bookletId @param {(note: string) => Promise<void>} done reload, then announce
 */
export function scheduleForm(bookletId, done) {
  const error = errorBox();
  const form = h('form', { class: 'card', 'data-form': 'schedule' },
    h('h3', null, t('sched_title')),
    field(t('sched_day'), { name: 'day', type: 'date', required: true, value: todayHelsinki() }),
    field(t('sched_time'), { name: 'time', type: 'time', required: true, value: '14:00', step: 300 }),
    field(t('sched_duration'), { name: 'duration', type: 'number', required: true, min: 5, max: 480, value: 45, inputmode: 'numeric' }),
    field(t('sched_weeks'), { name: 'weeks', type: 'number', required: true, min: 1, max: 52, value: 1, inputmode: 'numeric' },
      { hint: t('sched_weeks_hint') }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('sched_submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const get = (n) => form.elements.namedItem(n).value;
    const weeks = Math.max(1, Math.min(52, Number(get('weeks')) || 1));
    const duration = Number(get('duration'));
    let booked = 0;
    await busy(form, error, async () => {
      try {
        for (let i = 0; i < weeks; i += 1) {
          await api('POST', `/api/booklets/${bookletId}/appointments`, {
            start: helsinkiIso(addWeeks(get('day'), i), get('time')), duration_minutes: duration,
          });
          booked += 1;
        }
      } catch (e) {
        if (booked) await done(t('sched_partly', { n: booked, of: weeks }));
        throw e;
      }
      await done(weeks > 1 ? t('sched_series_ok', { n: weeks }) : t('sched_ok'));
    });
  });
  return form;
}

/**
 * Mark a past, still-booked session attended or no-show.
 * @param {string} bookletId @param {{id: string}} a @param {string} when its time in words
 * @param {(note: string) => Promise<void>} done @param {ReturnType<typeof errorBox>} error
 */
export function markButtons(bookletId, a, when, done, error) {
  const mark = (status) => async (ev) => {
    const button = /** @type {HTMLButtonElement} */ (ev.currentTarget);
    button.disabled = true;
    error.clear();
    try {
      await api('POST', `/api/booklets/${bookletId}/appointments/${a.id}/status`, { status });
      await done(t(status === 'attended' ? 'mark_attended_ok' : 'mark_no_show_ok', { when }));
    } catch (e) {
      button.disabled = false;
      throw e;
    }
  };
  const safely = (fn) => (ev) => fn(ev).catch((e) => { error.show(describeError(e)); announce(error.textContent ?? ''); });
  return h('div', { class: 'row appt-actions' },
    h('button', { type: 'button', class: 'primary', 'aria-label': t('mark_attended_named', { when }), onclick: safely(mark('attended')) }, t('mark_attended')),
    h('button', { type: 'button', class: 'secondary', 'aria-label': t('mark_no_show_named', { when }), onclick: safely(mark('no_show')) }, t('mark_no_show')));
}

/**
 * "Move": a new day and time for a booked session (book the new one, then cancel the old).
 * @param {string} bookletId @param {{id: string, start: string, duration_minutes: number}} a
 * @param {string} when @param {(note: string) => Promise<void>} done
 */
export function moveStep(bookletId, a, when, done) {
  const box = h('div', { class: 'appt-move' });
  const error = errorBox();
  const open = () => {
    const at = helsinkiParts(a.start);
    const headingId = uid('move');
    const form = h('form', { class: 'confirm', 'aria-labelledby': headingId },
      h('p', { id: headingId }, t('move_question', { when })),
      field(t('sched_day'), { name: 'day', type: 'date', required: true, value: at.day }),
      field(t('sched_time'), { name: 'time', type: 'time', required: true, value: at.time, step: 300 }),
      h('p', { class: 'hint' }, t('move_hint')),
      error,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'primary' }, t('move_submit')),
        h('button', { type: 'button', class: 'secondary', onclick: close }, t('cancel'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const get = (n) => form.elements.namedItem(n).value;
      await busy(form, error, async () => {
        await api('POST', `/api/booklets/${bookletId}/appointments`, {
          start: helsinkiIso(get('day'), get('time')), duration_minutes: a.duration_minutes,
        });
        await api('POST', `/api/booklets/${bookletId}/appointments/${a.id}/cancel`);
        await done(t('move_ok', { when }));
      });
    });
    box.replaceChildren(form);
    form.querySelector('input')?.focus();
  };
  const button = () => h('button', { type: 'button', class: 'secondary', 'aria-label': t('move_named', { when }), onclick: open }, t('move'));
  function close() {
    box.replaceChildren(button());
    box.querySelector('button')?.focus();
  }
  box.replaceChildren(button());
  return box;
}

/**
 * "Therapy period": start, end, sessions granted and payer; prefilled with the current period,
 * saving records a new one (the newest counts).
 * @param {string} bookletId @param {any} period the current one or null
 * @param {(note: string) => Promise<void>} done
 */
export function periodForm(bookletId, period, done) {
  const error = errorBox();
  const form = h('form', { class: 'card', 'data-form': 'period' },
    h('h3', null, period ? t('period_edit') : t('period_set')),
    field(t('period_start'), { name: 'start', type: 'date', required: true, value: period?.start ?? todayHelsinki() }),
    field(t('period_end'), { name: 'end', type: 'date', required: true, value: period?.end ?? '' }),
    field(t('period_granted'), { name: 'granted', type: 'number', required: true, min: 1, max: 500, value: period?.sessions_granted ?? '', inputmode: 'numeric' }),
    field(t('period_payer'), { name: 'payer' }, { tag: 'select', options: PAYERS.map((p) => [p, t(`payer_${p}`)]) }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('period_save')));
  if (period) form.elements.namedItem('payer').value = period.payer;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const get = (n) => form.elements.namedItem(n).value;
    if (get('end') <= get('start')) {
      error.show(t('period_end_after'));
      announce(t('period_end_after'));
      return;
    }
    await busy(form, error, async () => {
      await api('POST', `/api/booklets/${bookletId}/period`, {
        start: get('start'), end: get('end'), sessions_granted: Number(get('granted')), payer: get('payer'),
      });
      await done(t('period_saved'));
    });
  });
  return form;
}
