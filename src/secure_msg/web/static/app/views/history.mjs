/** The warning on a booklet whose history does not add up (docs/protocol.md §4.6). */
import { h, replace } from '../dom.mjs';
import { t } from '../i18n.mjs';

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
 * A live region that says what is wrong, and stays until a read adds up. Its content changes only
 * when the findings do, so a screen reader hears it once, not on every live update.
 * @returns {HTMLElement & {show: (problems: import('../history.mjs').Problem[], therapist: boolean) => void}}
 */
export function historyWarning() {
  const box = /** @type {any} */ (h('section', { class: 'warning history-warning', role: 'alert', hidden: true, 'aria-labelledby': 'history-h' }));
  let shown = '';
  box.show = (problems, therapist) => {
    const lines = problems.slice(0, SHOWN).map(describeProblem);
    if (problems.length > SHOWN) lines.push(t('history_more', { n: problems.length - SHOWN }));
    const key = [...lines, therapist].join('\n');
    if (key === shown) return;
    shown = key;
    box.hidden = !problems.length;
    replace(box, problems.length ? [
      h('h2', { id: 'history-h' }, t('history_title')),
      h('ul', null, lines.map((line) => h('li', null, line))),
      h('p', null, t(therapist ? 'history_advice_therapist' : 'history_advice')),
    ] : []);
  };
  return box;
}
