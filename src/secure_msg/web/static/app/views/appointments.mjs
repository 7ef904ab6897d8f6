/**
 * Appointments and the therapy period of one booklet: upcoming sessions (Europe/Helsinki time, in
 * the user's language), cancelling with a confirmation step and a late-cancellation warning inside
 * the practice's window (the server says how many hours), and "used N of M · period ends D" as a
 * <progress> bar with its text. Therapists also see earlier sessions as attended / no-show.
 */
import { api, describeError } from '../api.mjs';
import { announce, h, replace } from '../dom.mjs';
import { lang, t } from '../i18n.mjs';
import { errorBox } from './common.mjs';
import { markButtons, moveStep, periodForm, scheduleForm } from './appointments-edit.mjs';

const ZONE = 'Europe/Helsinki';
const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };
const HOUR = 3_600_000;

/**
 * @typedef {object} Appointment
 * @property {string} id @property {string} start ISO time @property {number} duration_minutes
 * @property {string} status @property {boolean} late
 */

/** A session's date and time in the user's language, Helsinki time. @param {string} iso */
export function sessionTime(iso) {
  return new Date(iso).toLocaleString(LOCALES[lang()], {
    timeZone: ZONE, weekday: 'short', day: 'numeric', month: 'numeric', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** A calendar date (YYYY-MM-DD) in the user's language. @param {string} day */
function calendarDay(day) {
  return new Date(`${day}T12:00:00Z`).toLocaleDateString(LOCALES[lang()], { timeZone: 'UTC', day: 'numeric', month: 'numeric', year: 'numeric' });
}

const ends = (a) => Date.parse(a.start) + a.duration_minutes * 60_000;

/**
 * Fill the booklet's appointments section. @param {HTMLElement} section the #appointments-hook
 * @param {string} bookletId @param {string} role my role in the booklet
 */
export async function appointmentsPanel(section, bookletId, role) {
  const error = errorBox();
  let data;
  let period = null;
  try {
    data = await api('GET', `/api/booklets/${bookletId}/appointments`); // with the period, or null
    period = data.period ?? null;
  } catch (e) {
    error.show(describeError(e));
    replace(section, h('h2', { id: 'appts-h' }, t('appts_title')), error);
    section.hidden = false;
    return;
  }
  /** @type {Appointment[]} */
  const all = [...data.appointments].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const windowHours = Number(data.late_cancellation_hours ?? 0);
  const canCancel = role === 'guardian' || role === 'therapist';

  const therapist = role === 'therapist';
  /** After a therapist's change: load the panel again, then say what happened. */
  const reloaded = async (note) => {
    const toolsOpen = section.querySelector('.appts-tools')?.open ?? false;
    await appointmentsPanel(section, bookletId, role);
    const tools = section.querySelector('.appts-tools');
    if (tools) tools.open = toolsOpen;
    const status = section.querySelector('.appts-status');
    if (!status) return;
    status.textContent = note;
    status.setAttribute('tabindex', '-1'); // the button pressed is gone: focus what it did
    status.focus();
  };

  function render() {
    const now = Date.now();
    const upcoming = all.filter((a) => ends(a) > now);
    const started = (a) => Date.parse(a.start) <= now;
    // A therapist's past sessions still "booked" wait to be marked attended or no-show.
    const toMark = therapist ? all.filter((a) => a.status === 'scheduled' && started(a) && ends(a) <= now) : [];
    const earlier = all.filter((a) => ends(a) <= now && !toMark.includes(a)).reverse();
    const next = upcoming.find((a) => a.status === 'scheduled');
    // What the therapist's last action did stays said when the panel is drawn again (a live
    // event from that very change can redraw it just after the note was written).
    const oldStatus = section.querySelector('.appts-status');
    const said = oldStatus?.textContent ?? '';
    const focused = oldStatus !== null && document.activeElement === oldStatus;
    const toolsOpen = section.querySelector('.appts-tools')?.open ?? false;
    replace(section,
      h('h2', { id: 'appts-h' }, t('appts_title')),
      error,
      therapist ? h('p', { class: 'appts-status muted', role: 'status' }, said) : null,
      period ? periodBar(period) : null,
      h('p', { class: 'next-session' }, next ? t('appts_next', { when: sessionTime(next.start) }) : t('appts_none')),
      toMark.length ? [h('h3', { id: 'appts-to-mark-h' }, t('appts_to_mark', { n: toMark.length })),
        h('ul', { class: 'appts appts-to-mark', 'aria-labelledby': 'appts-to-mark-h' }, toMark.map(item))] : null,
      upcoming.length ? h('ul', { class: 'appts', 'aria-label': t('appts_upcoming') }, upcoming.map(item)) : null,
      therapist && earlier.length
        ? h('details', { class: 'appts-earlier' }, h('summary', null, t('appts_earlier', { n: earlier.length })),
          h('ul', { class: 'appts' }, earlier.map(item)))
        : null,
      therapist
        ? h('details', { class: 'panel appts-tools' }, h('summary', null, t('appts_tools')),
          scheduleForm(bookletId, reloaded), periodForm(bookletId, period, reloaded))
        : null);
    // …and so do the open tools and the focus on that note, or the redraw would throw the
    // therapist's place away.
    const tools = section.querySelector('.appts-tools');
    if (tools && toolsOpen) tools.open = true;
    const status = section.querySelector('.appts-status');
    if (status && focused) {
      status.setAttribute('tabindex', '-1');
      status.focus();
    }
    section.hidden = false;
    section.dataset.ready = 'true';
  }

  /** @param {Appointment} a */
  function item(a) {
    const when = sessionTime(a.start);
    const li = h('li', { class: `appt appt-${a.status}`, 'data-appointment': a.id },
      h('p', { class: 'appt-when' }, h('time', { datetime: a.start }, when),
        h('span', { class: 'muted' }, ` · ${t('appts_minutes', { n: a.duration_minutes })}`)),
      h('p', { class: 'appt-status' }, statusText(a)));
    if (a.status === 'scheduled' && canCancel && Date.parse(a.start) > Date.now()) li.append(cancelStep(a));
    if (a.status === 'scheduled' && therapist && Date.parse(a.start) > Date.now()) li.append(moveStep(bookletId, a, when, reloaded));
    if (a.status === 'scheduled' && therapist && Date.parse(a.start) <= Date.now()) li.append(markButtons(bookletId, a, when, reloaded, error));
    return li;
  }

  /** The cancel button, then a confirmation (with the late warning inside the window). */
  function cancelStep(a) {
    const when = sessionTime(a.start);
    const box = h('div', { class: 'appt-actions' });
    const ask = () => {
      const late = role !== 'therapist' && Date.parse(a.start) - Date.now() < windowHours * HOUR;
      const question = h('p', { id: `confirm-${a.id}` }, t('appts_confirm', { when }));
      const yes = h('button', { type: 'button', class: 'danger', onclick: async () => {
        yes.disabled = true;
        error.clear();
        try {
          const updated = await api('POST', `/api/booklets/${bookletId}/appointments/${a.id}/cancel`);
          all.splice(all.indexOf(a), 1, updated);
          render();
          announce(t('appts_cancelled_ok', { when }));
          const status = section.querySelector(`[data-appointment="${updated.id}"] .appt-status`);
          status?.setAttribute('tabindex', '-1');
          status?.focus();
        } catch (e) {
          yes.disabled = false;
          error.show(describeError(e));
          announce(error.textContent ?? '');
        }
      } }, t('appts_confirm_yes'));
      const keep = h('button', { type: 'button', class: 'secondary', onclick: () => { replace(box, cancelButton()); box.querySelector('button')?.focus(); } }, t('appts_keep'));
      replace(box, h('div', { class: late ? 'confirm warning' : 'confirm', role: 'group', 'aria-labelledby': `confirm-${a.id}` },
        question,
        late ? h('p', { class: 'late-warning' }, t('appts_late_warning', { h: windowHours })) : null,
        h('div', { class: 'row' }, yes, keep)));
      yes.focus();
    };
    const cancelButton = () => h('button', { type: 'button', class: 'secondary', 'aria-label': t('appts_cancel_named', { when }), onclick: ask }, t('appts_cancel'));
    replace(box, cancelButton());
    return box;
  }

  render();
}

/** The status of an appointment in words (never by colour alone). @param {Appointment} a */
function statusText(a) {
  const text = t(`appt_${a.status}`);
  return a.late ? `${text} (${t('appt_late')})` : text;
}

/** "Used N of M sessions · period ends D" with a progress bar labelled by that text. */
function periodBar(p) {
  const text = t('period_used', { used: p.used, granted: p.sessions_granted, end: calendarDay(p.end) });
  return h('div', { class: 'period' },
    h('p', { id: 'period-text' }, text),
    h('progress', { max: p.sessions_granted, value: Math.min(p.used, p.sessions_granted), 'aria-labelledby': 'period-text' }));
}
