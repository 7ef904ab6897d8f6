/**
 * The writer confirms before a post or a shared history reaches someone new who is not verified
 * in person (docs/protocol.md §6.4): a server can add an account to a booklet; only people can
 * tell whether it belongs there. An inline step beside the form, not a modal: calm on a phone.
 */
import { announce, h } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { nameOf } from '../data.mjs';
import { NotConfirmed } from '../pins.mjs';

let count = 0;

/** The question per kind sent: "this message" is no name for a homework or its log. */
const SEND_QUESTION = {
  note: 'newcomers_send', homework: 'newcomers_send_homework', 'homework-log': 'newcomers_send_log', title: 'newcomers_send_title',
};

/** "Liisa (caregiver)"; a relabelled member as nameOf says it. @param {import('../data.mjs').Member} m */
const who = (m) => (m.relabelled || !m.name ? nameOf(m, t) : t('name_role', { name: m.name, role: t(`role_${m.role}`) }));

/**
 * Ask beside `anchor`; resolves true for Send (or Share), false for Cancel, Escape or leaving to
 * compare a safety number.
 * @param {HTMLElement} anchor the form (or row) the question belongs to
 * @param {string} bookletId @param {import('../data.mjs').Member[]} newcomers
 * @param {'send' | 'share'} what
 * @param {string} [kind] the entry kind sent, so the question names it (a note, a homework, a log)
 * @returns {Promise<boolean>}
 */
export function confirmNewcomers(anchor, bookletId, newcomers, what = 'send', kind = 'note') {
  const id = `newcomers-${++count}`;
  const names = newcomers.map(who).join(', ');
  const question = what === 'share' ? 'newcomers_share' : SEND_QUESTION[kind] ?? 'newcomers_send';
  // "Working…" would be untrue while the question waits for an answer.
  const working = /** @type {HTMLElement | null} */ (anchor.querySelector('.working'));
  if (working) working.hidden = true;
  return new Promise((resolve) => {
    const done = (/** @type {boolean} */ yes) => {
      box.remove();
      if (working) working.hidden = false;
      if (!yes) {
        announce(t(what === 'send' ? 'not_sent' : 'not_shared'));
        anchor.querySelector('textarea, input, button')?.focus();
      }
      resolve(yes);
    };
    const box = h('section', {
      class: 'warning confirm-newcomers', role: 'alertdialog', tabindex: '-1',
      'aria-labelledby': `${id}-h`, 'aria-describedby': `${id}-q`,
      onkeydown: (/** @type {KeyboardEvent} */ ev) => { if (ev.key === 'Escape') done(false); },
    },
    h('h2', { id: `${id}-h` }, t('newcomers_title')),
    h('p', { id: `${id}-q` }, t(question, { names })),
    h('p', { class: 'muted' }, t('newcomers_hint')),
    // Each link names its member in its visible text: identical links said nothing to the eye.
    h('ul', null, newcomers.map((m) => h('li', null,
      h('a', { href: `#/b/${bookletId}/safety/${m.id}`, onclick: () => done(false) }, t('compare_named', { name: who(m) }))))),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'primary', 'data-action': 'confirm-newcomers', onclick: () => done(true) },
        t(what === 'send' ? 'send' : 'share')),
      h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel-newcomers', onclick: () => done(false) }, t('cancel'))));
    anchor.after(box);
    box.focus();
  });
}

/**
 * Options for post() and grantHistory() that ask beside `anchor`.
 * @param {HTMLElement} anchor @param {string} bookletId @param {'send' | 'share'} [what] @param {string} [kind] what is sent
 */
export const askingBeside = (anchor, bookletId, what = 'send', kind = 'note') => ({
  confirm: (/** @type {import('../data.mjs').Member[]} */ newcomers) => confirmNewcomers(anchor, bookletId, newcomers, what, kind),
});

/**
 * Run `work`; the writer's Cancel is no error (it was announced), so it resolves false.
 * @param {() => Promise<void>} work @returns {Promise<boolean>}
 */
export async function unlessCancelled(work) {
  try {
    await work();
    return true;
  } catch (e) {
    if (e instanceof NotConfirmed) return false;
    throw e;
  }
}

/**
 * A yes/no question beside `anchor`, the same inline alertdialog as confirmNewcomers: it takes
 * focus; resolves true for `yes`, false for Cancel or Escape (the caller moves focus on).
 * @param {HTMLElement} anchor
 * @param {{title: string, question: string, yes: string, action: string}} ask
 *   `action` names the buttons' data-action (`confirm-…`, `cancel-…`)
 * @returns {Promise<boolean>}
 */
export function confirmInline(anchor, { title, question, yes, action }) {
  const id = `confirm-inline-${++count}`;
  return new Promise((resolve) => {
    const done = (/** @type {boolean} */ ok) => {
      box.remove();
      resolve(ok);
    };
    const box = h('section', {
      class: 'confirm-inline', role: 'alertdialog', tabindex: '-1',
      'aria-labelledby': `${id}-h`, 'aria-describedby': `${id}-q`,
      onkeydown: (/** @type {KeyboardEvent} */ ev) => { if (ev.key === 'Escape') done(false); },
    },
    h('h2', { id: `${id}-h` }, title),
    h('p', { id: `${id}-q` }, question),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'danger', 'data-action': `confirm-${action}`, onclick: () => done(true) }, yes),
      h('button', { type: 'button', class: 'secondary', 'data-action': `cancel-${action}`, onclick: () => done(false) }, t('cancel'))));
    anchor.after(box);
    box.focus();
  });
}
