/**
 * A therapist's notices that did not, or may not, have reached a family as meant (GET
 * /api/notices/problems): each as its plain-language state, what it was and when, linked to its
 * booklet. Hidden when there are none; the list is announced by its heading, the state is text
 * (not colour alone).
 */
import { api, describeError } from '../api.mjs';
import { announce, h, replace } from '../dom.mjs';
import { formatTime, t } from '../i18n.mjs';
import { errorBox } from './common.mjs';

/** The statuses the server reports here, each with its text key. */
export const PROBLEM_STATUSES = ['failed', 'undelivered', 'ambiguous', 'reconciled', 'duplicate_suspected', 'expired'];
/** The notice kinds a therapist may see here. */
export const PROBLEM_KINDS = ['invitation', 'reminder', 'cancelled_by_therapist', 'cancellation_confirmed',
  'family_cancelled_alert', 'opt_out_alert', 'new_entry_ping', 'period_ending', 'booklet_closed', 'export_reminder'];

/**
 * One problem as a line of text in the current language.
 * @param {{status: string, kind: string, updated_at: string}} n @param {(key: string, vars?: object) => string} tr
 */
export function describeProblem(n, tr) {
  const status = PROBLEM_STATUSES.includes(n.status) ? tr(`notice_status_${n.status}`) : n.status;
  const kind = PROBLEM_KINDS.includes(n.kind) ? tr(`notice_kind_${n.kind}`) : n.kind;
  return tr('notice_problem_item', { status, kind, when: formatTime(n.updated_at) });
}

/**
 * What the line says once a notice is queued again: "being sent again", or, when quiet hours
 * hold it back (a reminder asked for at night), when it will go. A minute's slack keeps the
 * plain text for one that goes at once whatever the two clocks say.
 * @param {{send_after_ms?: number}} queued @param {number} nowMs
 * @param {(key: string, vars?: object) => string} tr
 */
export function retriedText(queued, nowMs, tr) {
  const after = queued.send_after_ms;
  if (typeof after !== 'number' || after <= nowMs + 60_000) return tr('notice_retried');
  return tr('notice_retried_at', { when: formatTime(after) });
}

/**
 * The section, filled once `ready` (the booklet titles) has settled and the list has loaded.
 * @param {(bookletId: string) => string | null} titleOf @param {Promise<unknown>} ready
 * @returns {HTMLElement}
 */
export function noticeProblems(titleOf, ready) {
  const section = h('section', { class: 'notice-problems card', 'aria-labelledby': 'notice-problems-h', hidden: true });
  const error = errorBox();
  (async () => {
    await ready;
    try {
      const { notices } = await api('GET', '/api/notices/problems');
      if (!notices.length) return;
      replace(section,
        h('h2', { id: 'notice-problems-h' }, t('notice_problems_title')),
        h('ul', { class: 'notice-problems-list' }, notices.map((n) => h('li', { class: `notice-problem notice-${n.status}` },
          h('span', null, describeProblem(n, t)),
          n.booklet_id ? [' · ', h('a', { href: `#/b/${n.booklet_id}` }, titleOf(n.booklet_id) ?? t('untitled'))] : null,
          retryButton(n, titleOf)))));
      section.hidden = false;
    } catch (e) {
      error.show(describeError(e));
      replace(section, error);
      section.hidden = false;
    }
  })();
  return section;
}

/** Statuses a therapist can send again (POST /api/notices/{id}/retry); never an invitation. */
export const RETRYABLE = ['failed', 'undelivered', 'expired'];

/** "Send again" for a retryable notice; the line then says it is queued. */
function retryButton(n, titleOf) {
  if (!RETRYABLE.includes(n.status) || n.kind === 'invitation' || !n.booklet_id) return null;
  const label = t('notice_retry_named', { what: describeProblem(n, t), title: titleOf(n.booklet_id) ?? t('untitled') });
  const note = h('span', { class: 'muted', role: 'status' });
  const button = h('button', { type: 'button', class: 'secondary', 'aria-label': label, onclick: async () => {
    button.disabled = true;
    try {
      const said = retriedText(await api('POST', `/api/notices/${n.id}/retry`), Date.now(), t);
      note.textContent = said;
      button.remove();
      announce(said);
    } catch (e) {
      button.disabled = false;
      note.textContent = describeError(e, { 'notice-not-retryable': 'notice_not_retryable' });
    }
  } }, t('notice_retry'));
  return h('div', { class: 'row' }, button, note);
}
