/**
 * The warning on a booklet whose history does not add up (docs/protocol.md §4.6), with the two
 * ways out that are the user's to take: accepting the history after a restore they were told
 * about, and hiding a "you joined again" line once read.
 */
import { h, replace } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { canAcceptHistory } from '../history.mjs';
import { confirmInline } from './confirm.mjs';

/** A hostile server could report hundreds of gaps: the first few say enough. */
const SHOWN = 5;

/** One finding as a sentence. @param {import('../history.mjs').Problem} p */
export function describeProblem(p) {
  if (p.code === 'entries-missing') {
    return p.from === p.to ? t('history_missing_one', { n: p.from }) : t('history_missing', { from: p.from, to: p.to });
  }
  const key = { 'history-rewritten': 'history_rewritten', 'membership-restarted': 'history_restarted' }[p.code] ?? 'history_broken';
  return t(key, { n: p.seq });
}

/**
 * @typedef {object} WarningActions
 * @property {() => Promise<void>} accept take the history as it is now; called once the user confirmed
 * @property {(p: import('../history.mjs').Problem) => void} dismiss hide a `membership-restarted` line
 */

/**
 * The findings in a live region that stays until a read adds up; its content changes only when
 * the findings do, so a screen reader hears it once, not on every live update. The offer to
 * accept sits below it, outside the live region, so asking and answering are not re-announced.
 * @param {WarningActions} actions
 * @returns {HTMLElement & {show: (problems: import('../history.mjs').Problem[], therapist: boolean) => void}}
 */
export function historyWarning(actions) {
  const findings = h('section', { class: 'history-warning', role: 'alert', 'aria-labelledby': 'history-h' });
  const offer = h('div', { class: 'history-accept' });
  const box = /** @type {any} */ (h('div', { class: 'warning history-box', hidden: true }, findings, offer));
  let shown = '';
  box.show = (/** @type {import('../history.mjs').Problem[]} */ problems, /** @type {boolean} */ therapist) => {
    const lines = problems.slice(0, SHOWN).map((p, i) => findingLine(p, i, actions));
    if (problems.length > SHOWN) lines.push(h('li', null, t('history_more', { n: problems.length - SHOWN })));
    const acceptable = canAcceptHistory(problems);
    const key = [...lines.map((li) => li.textContent), therapist, acceptable].join('\n');
    if (key === shown) return;
    shown = key;
    box.hidden = !problems.length;
    replace(findings, problems.length ? [
      h('h2', { id: 'history-h' }, t('history_title')),
      h('ul', null, lines),
      h('p', null, t(therapist ? 'history_advice_therapist' : 'history_advice')),
    ] : []);
    replace(offer, acceptable ? acceptOffer(actions.accept) : null);
  };
  return box;
}

/**
 * A finding as a list item; a re-join (reported by one read only, and honest after a
 * re-invitation) can be hidden once read.
 * @param {import('../history.mjs').Problem} p @param {number} i @param {WarningActions} actions
 */
function findingLine(p, i, actions) {
  if (p.code !== 'membership-restarted') return h('li', null, describeProblem(p));
  const id = `history-line-${i}`;
  return h('li', { class: 'dismissible' }, h('span', { id }, describeProblem(p)), ' ',
    h('button', { type: 'button', class: 'secondary dismiss', 'data-action': 'dismiss-restart', 'aria-describedby': id,
      onclick: () => actions.dismiss(p) }, t('history_dismiss')));
}

/**
 * "Accept the history shown now": secondary, explained, and confirmed first.
 * @param {() => Promise<void>} accept
 */
function acceptOffer(accept) {
  const button = h('button', { type: 'button', class: 'secondary', 'data-action': 'accept-history', 'aria-describedby': 'history-accept-why' },
    t('history_accept'));
  const block = h('div', null, h('p', { id: 'history-accept-why' }, t('history_accept_hint')), button);
  button.addEventListener('click', async () => {
    button.disabled = true;
    const yes = await confirmInline(block, {
      title: t('history_accept_title'), question: t('history_accept_question'), yes: t('history_accept_yes'), action: 'accept-history',
    });
    const working = yes ? h('p', { class: 'muted working', role: 'status' }, t('working')) : null;
    if (working) block.append(working);
    try {
      if (yes) await accept();
    } finally {
      working?.remove();
      button.disabled = false;
      // Still here after Cancel, or when the read could not be accepted: back to the button.
      if (button.isConnected) button.focus();
    }
  });
  return block;
}
