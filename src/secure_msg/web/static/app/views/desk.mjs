/**
 * The therapist's desk: her caseload (GET /api/me/caseload, one request for any number of
 * booklets) with decrypted child names, unread, next session, period "27/40" and flags; a search
 * by child name that runs on this device (the server holds titles only as ciphertext); and the
 * day's and the week's sessions across the caseload. At 64rem (1024 px) and wider the list stays
 * beside the open booklet; narrower, the list and a booklet are separate screens as before.
 * The list loads again on the live events that change a row (an entry, a booklet closed, an
 * appointment booked or a family's cancellation, a member joining or leaving), on focus and once
 * a minute.
 */
import { api, describeError } from '../api.mjs';
import { field, h, replace } from '../dom.mjs';
import { lang, t } from '../i18n.mjs';
import { Opener, bookletTitle } from '../data.mjs';
import { fromBase64url, toHex } from '../../crypto/encoding.mjs';
import { ProtocolError } from '../../crypto/errors.mjs';
import { onEvent } from '../live.mjs';
import { state } from '../session.mjs';
import { errorBox } from './common.mjs';
import { newBookletForm } from './inbox.mjs';
import { noticeProblems } from './notice-problems.mjs';

const ZONE = 'Europe/Helsinki';
const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };
const REFRESH_MS = 60_000;

/**
 * Decrypted titles by envelope, per signed-in key set: a new login starts empty, and the keys
 * going away takes the names with them.
 * @type {WeakMap<object, Map<string, string | null>>}
 */
const titleCache = new WeakMap();

/**
 * A row's title. My own title entry (the usual case: I created the booklet) opens with my own
 * identity key and no request; anyone else's goes through the member list as in the inbox.
 * @param {{id: string, title_envelope: string | null}} row @returns {Promise<string | null>}
 */
async function titleOf(row) {
  if (!row.title_envelope || !state.keys || !state.account) return null;
  let cache = titleCache.get(state.keys);
  if (!cache) titleCache.set(state.keys, (cache = new Map()));
  const known = cache.get(row.title_envelope);
  if (known !== undefined) return known;
  let title = null;
  const env = fromBase64url(row.title_envelope);
  if (toHex(env.subarray(36, 52)) === state.account.id && state.account.role === 'therapist') {
    const me = /** @type {any} */ ({ id: state.account.id, pinnedKey: state.keys.identityPublic, pinnedRole: 'therapist' });
    try {
      const opened = await new Opener(row.id, [me]).open(me.id, env);
      if (opened.header.kind === 1) title = String(opened.payload.title); // KIND.title
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
    }
  }
  title ??= await bookletTitle(row);
  cache.set(row.title_envelope, title);
  return title;
}

/** YYYY-MM-DD in Helsinki. @param {number | string} when */
const dayOf = (when) => new Date(when).toLocaleDateString('en-CA', { timeZone: ZONE });
/** @param {string} iso @param {Intl.DateTimeFormatOptions} opts */
const local = (iso, opts) => new Date(iso).toLocaleString(LOCALES[lang()], { timeZone: ZONE, ...opts });
const clock = (iso) => local(iso, { hour: '2-digit', minute: '2-digit' });
const dayAndClock = (iso) => local(iso, { weekday: 'short', day: 'numeric', month: 'numeric', hour: '2-digit', minute: '2-digit' });
/** Lower case without accents' variants mattering: "Äijälä" is found by "äij" and "ÄIJ". */
const fold = (s) => s.toLocaleLowerCase(lang()).normalize('NFC');

/**
 * @param {HTMLElement} main @param {{open: string | null, wide: boolean}} opts open: a booklet
 * shown in the pane (wide only) @returns {() => void} cleanup
 */
export function deskView(main, { open, wide }) {
  const started = performance.now();
  /** @type {any[]} */ let rows = [];
  /** @type {Map<string, string | null>} */ const names = new Map();
  let loaded = false;
  const nameOf = (id) => names.get(id) ?? null;
  const error = errorBox();
  const status = h('p', { class: 'muted desk-count', role: 'status' }, t('loading'));
  const list = h('ul', { class: 'booklets desk-booklets', 'aria-labelledby': 'inbox-h' });
  const search = field(t('desk_search'), { type: 'search', name: 'q', autocomplete: 'off', spellcheck: 'false' });
  const input = /** @type {HTMLInputElement} */ (search.querySelector('input'));
  const today = h('section', { class: 'desk-sessions card', 'aria-labelledby': 'desk-today-h' });
  const week = h('section', { class: 'desk-sessions card', 'aria-labelledby': 'desk-week-h' });

  function showList() {
    const q = fold(input.value.trim());
    const shown = rows.filter((r) => !q || fold(nameOf(r.id) ?? '').includes(q));
    replace(list, shown.map((r) => item(r, nameOf(r.id), r.id === open)));
    if (!rows.length) status.textContent = t('no_booklets');
    else if (!q) status.textContent = t('desk_count', { n: rows.length });
    else status.textContent = shown.length ? t('desk_found', { n: shown.length, total: rows.length }) : t('desk_none_found');
  }

  function showSessions(sessions, weekTo) {
    const now = Date.now();
    const todayKey = dayOf(now);
    const mine = sessions.filter((s) => names.has(s.booklet_id));
    const onDay = mine.filter((s) => dayOf(s.start) === todayKey);
    const later = mine.filter((s) => dayOf(s.start) > todayKey && Date.parse(s.start) < Date.parse(weekTo));
    replace(today, h('h2', { id: 'desk-today-h' }, t('desk_today')), sessionList(onDay, clock, t('desk_no_today')));
    replace(week, h('h2', { id: 'desk-week-h' }, t('desk_week')), sessionList(later, dayAndClock, t('desk_no_week')));
  }

  function sessionList(sessions, when, empty) {
    if (!sessions.length) return h('p', { class: 'muted' }, empty);
    return h('ul', { class: 'desk-session-list' }, sessions.map((s) => h('li', { class: `desk-session appt-${s.status}` },
      h('span', { class: 'desk-when' }, when(s.start)), ' ',
      h('a', { href: `#/b/${s.booklet_id}` }, nameOf(s.booklet_id) ?? t('untitled')),
      s.status === 'scheduled' ? null : h('span', { class: 'desk-status' }, ` · ${t(`appt_${s.status}`)}`))));
  }

  let loading = null;
  let shown = '';
  async function load() {
    try {
      // Open document requests of the whole caseload: one request, counted per booklet.
      const [data, asked] = await Promise.all([api('GET', '/api/me/caseload'),
        api('GET', '/api/me/document-requests').catch(() => ({ requests: [] }))]);
      for (const b of data.booklets) b.open_requests = asked.requests.filter((q) => q.booklet_id === b.id).length;
      const titles = await Promise.all(data.booklets.map(titleOf));
      // The list is loaded again on every live event and once a minute: drawn again only when
      // something changed, and then with the focus kept on the same link.
      const now = JSON.stringify([data, titles, dayOf(Date.now())]);
      if (now !== shown) {
        shown = now;
        rows = data.booklets;
        names.clear();
        rows.forEach((r, i) => names.set(r.id, titles[i]));
        rows.sort((a, b) => (nameOf(a.id) ?? '\uffff').localeCompare(nameOf(b.id) ?? '\uffff', lang()));
        keepingFocus(() => {
          showList();
          showSessions(data.sessions, data.week_to);
        });
      }
      error.clear();
      if (!loaded) {
        loaded = true;
        document.documentElement.dataset.caseloadMs = String(Math.round(performance.now() - started));
        if (!open) main.dataset.ready = 'true';
      }
    } catch (e) {
      error.show(describeError(e));
    }
  }
  const reload = () => (loading ??= load().finally(() => { loading = null; }));

  input.addEventListener('input', showList);
  const first = reload();
  const heading = h(open ? 'h2' : 'h1', { id: 'inbox-h' }, t('inbox_title'));
  const column = h('section', { class: 'desk-list', 'aria-labelledby': 'inbox-h' }, heading, search, status, error, list);
  const extras = () => [today, week, noticeProblems(nameOf, first), newBookletForm(reload)];

  /** @type {() => void} */ let closePane = () => {};
  const CHANGES_A_ROW = new Set(['entry', 'booklet', 'appointments', 'member']);
  const stops = [onEvent((event) => { if (CHANGES_A_ROW.has(event.type)) reload(); })];
  const onFocus = () => reload();
  window.addEventListener('focus', onFocus);
  const timer = setInterval(reload, REFRESH_MS);

  if (!wide) {
    main.classList.remove('desk');
    // On a phone, "who needs me today" comes before a long list, the rest of the week after it.
    column.insertBefore(today, search);
    replace(main, column, ...extras().slice(1));
  } else {
    main.classList.add('desk');
    const pane = h('div', { class: 'desk-pane' });
    replace(main, column, pane);
    if (open) {
      // The booklet view marks itself ready on its own root: mirror that on <main> (tests and
      // screen readers wait for it there), and reload the list once it has been read.
      const watch = new MutationObserver(() => {
        if (pane.dataset.ready === 'true' && main.dataset.ready !== 'true') {
          main.dataset.ready = 'true';
          reload();
        }
      });
      watch.observe(pane, { attributes: true, attributeFilter: ['data-ready'] });
      import('./booklet.mjs').then(({ bookletView }) => {
        if (stopped) return;
        const stop = bookletView(pane, open);
        closePane = () => { stop(); watch.disconnect(); };
      });
    } else {
      replace(pane, h('h1', { id: 'desk-h', class: 'visually-hidden' }, t('desk_title')), ...extras());
    }
  }

  let stopped = false;
  return () => {
    stopped = true;
    stops.forEach((s) => s());
    window.removeEventListener('focus', onFocus);
    clearInterval(timer);
    closePane();
    main.classList.remove('desk');
  };
}

/** Run `draw`; a link that had the focus and is drawn again gets it back. @param {() => void} draw */
function keepingFocus(draw) {
  const active = document.activeElement;
  const href = active instanceof HTMLAnchorElement ? active.getAttribute('href') : null;
  const where = href ? active.closest('.desk-list, .desk-sessions') : null;
  draw();
  if (where && !where.contains(active)) {
    /** @type {HTMLElement | null} */ (where.querySelector(`a[href="${CSS.escape(href ?? '')}"]`))?.focus();
  }
}

/**
 * One booklet in the list. The link's accessible name carries everything shown (name, unread,
 * next session, period, flags), so nothing is told by colour or position alone.
 */
function item(r, title, current) {
  const unread = r.unread > 0;
  const p = r.period;
  const meta = [
    r.next_session ? t('desk_next', { when: dayAndClock(r.next_session.start) }) : t('desk_no_next'),
    p ? t('desk_period', { used: p.used, granted: p.sessions_granted }) : null,
  ].filter(Boolean);
  const flags = [
    r.family_cancellations > 0 ? h('span', { class: 'flag flag-cancel' }, t('desk_flag_cancelled', { n: r.family_cancellations })) : null,
    r.notice_problems > 0 ? h('span', { class: 'flag flag-notice' }, t('desk_flag_notice', { n: r.notice_problems })) : null,
    r.open_requests > 0 ? h('span', { class: 'flag flag-request' }, t('desk_flag_request', { n: r.open_requests })) : null,
  ].filter(Boolean);
  return h('li', { class: unread ? 'booklet unread' : 'booklet', 'data-booklet': r.id },
    h('a', { href: `#/b/${r.id}`, class: 'booklet-link', 'aria-current': current ? 'page' : null },
      h('span', { class: 'booklet-title' }, title ?? t('untitled')),
      unread
        ? h('span', { class: 'badge' }, h('span', { 'aria-hidden': 'true' }, t('unread', { n: r.unread })),
          h('span', { class: 'visually-hidden' }, `, ${t('unread_sr', { n: r.unread })}`))
        : h('span', { class: 'visually-hidden' }, `, ${t('no_unread')}`),
      h('span', { class: 'desk-meta' }, h('span', { class: 'visually-hidden' }, ', '), meta.join(' · ')),
      flags.length ? h('span', { class: 'desk-flags' }, h('span', { class: 'visually-hidden' }, ', '), flags) : null));
}
