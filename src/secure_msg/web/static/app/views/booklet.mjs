/** One booklet: entries oldest to newest, compose a note, members, and the therapist's tools. */
import { ApiError, api, describeError } from '../api.mjs';
import { announce, field, h, replace } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { Opener, members, nameOf, post, readEntries } from '../data.mjs';
import { acceptedCheckpoint } from '../history.mjs';
import { onEntry } from '../live.mjs';
import { replaceCheckpoint, state } from '../session.mjs';
import { toHex } from '../../crypto/encoding.mjs';
import { busy, errorBox } from './common.mjs';
import { askingBeside, unlessCancelled } from './confirm.mjs';
import { isoDay, renderEntry, weeklyCounts } from './entries.mjs';
import { historyWarning } from './history.mjs';
import { membersPanel, therapistTools } from './tools.mjs';
import { appointmentsPanel } from './appointments.mjs';
import { accessLogPanel } from './access-log.mjs';
import { closing } from './closing.mjs';
import { exportPanel } from './export.mjs';

/**
 * Re-joins already shown in this page (account:booklet:seq): hidden by the user, or shown until
 * they left the booklet. A read that could not store its checkpoint reports one again; it stays gone.
 * @type {Set<string>}
 */
const restartsSeen = new Set();

/** @param {HTMLElement} main @param {string} bookletId @returns {() => void} cleanup */
export function bookletView(main, bookletId) {
  /** @type {import('../data.mjs').Entry[]} */
  let entries = [];
  let lastSeq = 0;
  /** What the last read found wrong with the booklet's history (docs/protocol.md §4.6). */
  let problems = [];
  /** A re-join is reported by one read only: it stays on screen while the booklet is open, until hidden. */
  let restarts = [];
  const restartKey = (p) => `${state.account?.id}:${bookletId}:${p.seq}`;
  /** @type {import('../data.mjs').Member[]} */
  let all = [];
  let opener = null;
  let receipts = [];
  let gone = false;
  const timeline = h('ol', { class: 'timeline', 'aria-labelledby': 'booklet-h' });
  const heading = h('h1', { id: 'booklet-h', tabindex: '-1' }, t('loading'));
  const error = errorBox();
  const historyBox = historyWarning({
    accept: () => (queue = queue.then(acceptHistory)),
    dismiss: (p) => {
      restartsSeen.add(restartKey(p));
      restarts = restarts.filter((r) => r.seq !== p.seq);
      showHistory();
      heading.focus(); // the button is gone
    },
  });
  const side = h('div', { class: 'side' });
  const body = h('div', null);
  const appointments = h('section', { id: 'appointments-hook', class: 'hook appointments', hidden: true, 'data-booklet': bookletId, 'aria-labelledby': 'appts-h' });
  let appointmentsShown = false;
  const lifecycle = closing(bookletId);

  async function refreshMembers() {
    all = await members(bookletId, { all: true });
    opener = new Opener(bookletId, all);
  }

  const me = () => all.find((m) => m.id === state.account?.id);
  const canWrite = () => Boolean(me() && !me().removed && !gone && !lifecycle.closed());

  function render() {
    const byId = new Map(entries.map((e) => [e.id, e]));
    const ctx = {
      members: new Map(all.map((m) => [m.id, m])), byId, counts: weeklyCounts(entries), receipts, canWrite: canWrite(),
      logHomework: async (entry, how, form) => {
        try {
          const fields = { homework: entry.id, done: true, how, date: isoDay(new Date()) };
          const sent = await unlessCancelled(() => post(bookletId, 'homework-log', fields, askingBeside(form, bookletId)));
          if (!sent) return render();
          await update();
          announce(t('saved'));
        } catch (e) {
          error.show(describeError(e));
          render();
        }
      },
    };
    const title = [...entries].reverse().find((e) => e.kind === 'title' && e.payload)?.payload.title;
    // In the heading only, never in document.title: browsers keep page titles in their history, shared computers too.
    heading.textContent = title ?? t('untitled');
    replace(timeline, entries.length ? entries.map((e) => renderEntry(e, ctx)) : h('li', { class: 'quiet' }, t('empty_booklet')));
    const mine = me();
    compose.hidden = lifecycle.closed(); // a closed booklet is read-only: no write box
    replace(side, membersPanel(bookletId, all, entries, { therapist: mine?.role === 'therapist' && canWrite(), onChange: update }),
      mine?.role === 'therapist' && canWrite() ? therapistTools(bookletId, { onPosted: update }) : null,
      mine?.role === 'therapist' && canWrite() ? lifecycle.action(update, (text) => error.show(text)) : null);
  }

  async function markRead() {
    if (gone || document.visibilityState !== 'visible' || !lastSeq) return;
    try {
      await api('POST', `/api/booklets/${bookletId}/receipts`, { read_seq: lastSeq });
    } catch { /* a receipt is a courtesy */ }
  }

  /** Fetch what is new (members, entries, receipts) and show it; one update at a time. */
  let queue = Promise.resolve();
  const update = () => (queue = queue.then(fetchNew));

  async function fetchNew() {
    try {
      await refreshMembers();
      await lifecycle.refresh();
      const changed = all.filter((m) => m.changed && !m.removed);
      if (changed.length) return blocked(changed);
      // While the history does not add up, read it all again: a later page that adds up on its
      // own must not clear the warning while the earlier finding still stands.
      const since = problems.some((p) => p.code !== 'membership-restarted') ? 0 : lastSeq;
      const fresh = await readEntries(opener, since);
      entries = since ? entries.concat(fresh.entries.filter((e) => e.seq > lastSeq)) : fresh.entries;
      lastSeq = Math.max(lastSeq, fresh.lastSeq);
      problems = fresh.problems;
      restarts = [...restarts, ...problems.filter((p) => p.code === 'membership-restarted'
        && !restarts.some((r) => r.seq === p.seq) && !restartsSeen.has(restartKey(p)))];
      showHistory();
      receipts = (await api('GET', `/api/booklets/${bookletId}/receipts`)).receipts;
      render();
      if (!appointmentsShown && me() && !me().removed) {
        appointmentsShown = true;
        appointmentsPanel(appointments, bookletId, me().role);
      }
      await markRead();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        gone = true;
        replace(body, h('p', { class: 'notice', role: 'alert' }, t('no_longer_member')));
        return;
      }
      error.show(describeError(e));
    }
  }

  function showHistory() {
    const at = (p) => p.seq ?? p.from;
    const shown = [...problems.filter((p) => p.code !== 'membership-restarted'), ...restarts].sort((a, b) => at(a) - at(b));
    historyBox.show(shown, me()?.role === 'therapist');
  }

  /**
   * "Accept the history shown now", after a restore the user was told about: the CLI's
   * `booklet accept-history` rule. A full read must have no problem but those accepting excuses
   * and every entry must open; then its clean checkpoint replaces the one kept, lower or not
   * (a restore makes a booklet go back), and the warning goes with the next read.
   */
  async function acceptHistory() {
    error.clear();
    try {
      await refreshMembers();
      const read = await readEntries(opener, 0);
      const result = acceptedCheckpoint({
        problems: read.problems, joinedSeq: me()?.joinedSeq ?? 0,
        entries: read.entries.map((e) => ({ seq: e.seq, entryHash: e.error || !e.entryHash ? null : toHex(e.entryHash) })),
      });
      if (!result.ok) {
        error.show(t('history_accept_refused'));
        announce(t('history_accept_refused'));
        return;
      }
      await replaceCheckpoint(bookletId, result.checkpoint);
      restarts.forEach((r) => restartsSeen.add(restartKey(r)));
      restarts = [];
      await fetchNew();
      announce(t('history_accepted'));
      if (historyBox.hidden) heading.focus(); // the button went with the warning
    } catch (e) {
      error.show(describeError(e));
    }
  }

  /** A changed identity key blocks the booklet until the person is verified again. */
  function blocked(changed) {
    replace(body, h('section', { class: 'warning', role: 'alert', 'aria-labelledby': 'changed-h' },
      h('h2', { id: 'changed-h' }, t('key_changed_title')),
      changed.map((m) => [
        h('p', null, t('key_changed', { name: nameOf(m, t) })),
        h('p', null, h('a', { class: 'button primary', href: `#/b/${bookletId}/safety/${m.id}` }, t('key_changed_verify'))),
      ])));
  }

  const compose = h('form', { class: 'card compose' },
    field(t('write_note'), { name: 'text', required: true, maxlength: 20000, rows: 3 }, { tag: 'textarea' }),
    h('button', { type: 'submit', class: 'primary' }, t('send')));
  const composeError = errorBox();
  compose.insertBefore(composeError, compose.lastChild);
  compose.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const area = compose.elements.namedItem('text');
    const text = area.value.trim();
    if (!text) return;
    await busy(compose, composeError, async () => {
      if (!await unlessCancelled(() => post(bookletId, 'note', { text }, askingBeside(compose, bookletId)))) return;
      area.value = '';
      await update();
      announce(t('sent'));
    });
  });

  replace(body, h('section', { class: 'entries' }, timeline), compose, side, accessLogPanel(bookletId, () => all), exportPanel(bookletId));
  replace(main, h('p', null, h('a', { href: '#/', class: 'back' }, `← ${t('back')}`)), heading, lifecycle.banner, historyBox, error, appointments, body);

  const stop = onEntry((event) => {
    if (event.booklet_id === bookletId && !gone) update();
  });
  const visible = () => markRead();
  document.addEventListener('visibilitychange', visible);
  const started = performance.now();
  update().then(() => {
    document.documentElement.dataset.bookletRenderMs = String(Math.round(performance.now() - started));
    main.dataset.ready = 'true';
  });
  return () => {
    restarts.forEach((r) => restartsSeen.add(restartKey(r))); // left the booklet: shown once is enough
    stop();
    document.removeEventListener('visibilitychange', visible);
  };
}
