/**
 * One booklet: entries oldest to newest, opened at the newest (older ones shown on scroll), a write
 * box that stays reachable, members, and the therapist's tools.
 *
 * Nothing typed is lost to a live update: the forms and panels are made once and kept, and an
 * entry is re-rendered only when what it shows changed and it holds no open form, question or focus.
 */
import { ApiError, api, describeError } from '../api.mjs';
import { announce, field, h, replace } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { Opener, bookletTitle, members, nameOf, post, readEntries, readNewest } from '../data.mjs';
import { acceptedCheckpoint } from '../history.mjs';
import { onEvent, onMember } from '../live.mjs';
import { caregivers } from '../consent.mjs';
import { replaceCheckpoint, state } from '../session.mjs';
import { toHex } from '../../crypto/encoding.mjs';
import { busy, errorBox } from './common.mjs';
import { askingBeside, unlessCancelled } from './confirm.mjs';
import { entrySignature, isoDay, renderEntry, weeklyCounts } from './entries.mjs';
import { attachBox } from './attach.mjs';
import { historyWarning } from './history.mjs';
import { membersPanel, therapistTools } from './tools.mjs';
import { appointmentsPanel } from './appointments.mjs';
import { caregiverNotice, consentPanel } from './consent.mjs';
import { accessLogPanel } from './access-log.mjs';
import { closing } from './closing.mjs';
import { fulfilChoice } from './fulfil-request.mjs';
import { documentRequestsPanel } from './document-requests.mjs';
import { sharesPanel } from './shares.mjs';
import { exportPanel } from './export.mjs';

/**
 * Re-joins already shown in this page (account:booklet:seq): hidden by the user, or shown until
 * they left the booklet. A read that could not store its checkpoint reports one again; it stays gone.
 * @type {Set<string>}
 */
const restartsSeen = new Set();

/** Entries shown at first, and added by each "show earlier". */
const PAGE = 50;

/** Typing, a form opened, or a question waiting in `el`: it is not replaced meanwhile. @param {Element} el */
function busyWith(el) {
  const active = document.activeElement;
  const typing = active && el.contains(active) && active.matches('input, textarea, select');
  return Boolean(typing || el.querySelector('form.log-form:not([hidden]), [role=alertdialog], [data-action=confirm-remove], .appt-actions .confirm'));
}

/** A new item in the place of `old`, with the focus on the same control when it had it. @param {Element} old @param {HTMLElement} next */
function swapKeepingFocus(old, next) {
  const active = document.activeElement;
  const had = active && active !== document.body && old.contains(active);
  const label = had ? active.textContent : null;
  old.replaceWith(next);
  if (!had) return;
  const same = [...next.querySelectorAll('button, a')].find((el) => el.textContent === label);
  if (same) same.focus();
  else {
    next.setAttribute('tabindex', '-1');
    next.focus();
  }
}


/** @param {HTMLElement} main @param {string} bookletId @returns {() => void} cleanup */
export function bookletView(main, bookletId) {
  /** @type {import('../data.mjs').Entry[]} */
  let entries = [];
  let lastSeq = 0;
  /** Every entry has been read and checked (the first page comes before). */
  let complete = false;
  /** The next read starts from 0: a grant can open entries read before as unreadable. */
  let rereadAll = false;
  /** The oldest sequence shown; older entries wait for "show earlier". */
  let shownFrom = Infinity;
  /** The title from the booklet list's row, until the entries read give one. */
  let rowTitle = null;
  /** What the last read found wrong with the booklet's history (docs/protocol.md §4.6). */
  let problems = [];
  /** A re-join is reported by one read only: it stays on screen while the booklet is open, until hidden. */
  let restarts = [];
  const restartKey = (p) => `${state.account?.id}:${bookletId}:${p.seq}`;
  /** @type {import('../data.mjs').Member[]} */
  let all = [];
  let opener = null;
  let receipts = [];
  /** Caregivers' terms and the guardians' consent records (docs/protocol.md §5.1). */
  let consentRows = [];
  /** @type {HTMLElement | null} */
  let consentBox = null;
  let consentBoxSig = '';
  let gone = false;
  /** @type {Map<string, {li: HTMLElement, sig: string}>} entry id → its rendered item */
  const rendered = new Map();
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
  const earlier = h('button', { type: 'button', class: 'secondary earlier', hidden: true, onclick: () => showEarlier() }, t('show_earlier'));
  const side = h('div', { class: 'side' });
  const body = h('div', null);
  const appointments = h('section', { id: 'appointments-hook', class: 'hook appointments', hidden: true, 'data-booklet': bookletId, 'aria-labelledby': 'appts-h' });
  let appointmentsShown = false;
  /** The members panel and its inputs, kept while they stay the same (an open panel stays open). */
  let membersBox = null;
  let membersSig = '';
  let tools = null;
  let closeAction = null;
  const lifecycle = closing(bookletId);

  async function refreshMembers() {
    all = await members(bookletId, { all: true });
    opener = new Opener(bookletId, all);
  }

  const me = () => all.find((m) => m.id === state.account?.id);
  const canWrite = () => Boolean(me() && !me().removed && !gone && !lifecycle.closed());
  const therapist = () => me()?.role === 'therapist' && canWrite();

  /** Every entry, once the whole booklet has been read: what sharing the history needs. */
  async function allEntries() {
    await queue;
    if (!complete) await update();
    if (!complete) throw new ApiError(0, 'network', 'network'); // the read failed: its error is on screen
    return entries;
  }

  function render() {
    const byId = new Map(entries.map((e) => [e.id, e]));
    /** @type {import('./entries.mjs').RenderContext} */
    const ctx = {
      bookletId, members: new Map(all.map((m) => [m.id, m])), byId, counts: weeklyCounts(entries), receipts, canWrite: canWrite(),
      canLog: me()?.role !== 'therapist',
      logHomework: async (entry, how, form) => {
        const fields = { homework: entry.id, done: true, how, date: isoDay(new Date()) };
        const sent = await unlessCancelled(() => post(bookletId, 'homework-log', fields, askingBeside(form, bookletId, 'send', 'homework-log')));
        if (!sent) return false;
        announce(t('saved'));
        update();
        return true;
      },
    };
    const title = [...entries].reverse().find((e) => e.kind === 'title' && e.payload)?.payload.title ?? rowTitle;
    // In the heading only, never in document.title: browsers keep page titles in their history, shared computers too.
    heading.textContent = title ?? t('untitled');
    renderTimeline(ctx);
    renderSide();
  }

  /** Show the entries from `shownFrom` on, re-rendering only those whose look changed. */
  function renderTimeline(ctx) {
    const shown = entries.filter((e) => e.seq >= shownFrom);
    const items = shown.map((e) => {
      const sig = entrySignature(e, ctx);
      const had = rendered.get(e.id);
      if (had && (had.sig === sig || busyWith(had.li))) return had.li;
      const li = renderEntry(e, ctx);
      rendered.set(e.id, { li, sig });
      if (had?.li.isConnected) swapKeepingFocus(had.li, li);
      return li;
    });
    const keep = new Set(items);
    for (const [id, { li }] of rendered) if (!keep.has(li)) rendered.delete(id);
    if (!items.length) items.push(h('li', { class: 'quiet' }, t('empty_booklet')));
    // Insert and remove around the items that stay: moving a node would drop its focus.
    items.forEach((li, i) => {
      if (timeline.children[i] !== li) timeline.insertBefore(li, timeline.children[i] ?? null);
    });
    while (timeline.children.length > items.length) timeline.lastElementChild?.remove();
    // Before the whole booklet is read, a first page that does not start at 1 may have earlier entries.
    earlier.hidden = complete ? !entries.some((e) => e.seq < shownFrom) : !(entries.length > 0 && entries[0].seq > 1);
  }

  /** The members panel is rebuilt only when the members changed and no question is open in it; its open state stays. */
  function renderSide() {
    const mine = me();
    const sig = JSON.stringify([therapist(), all.map((m) => [m.id, nameOf(m, t), m.role, m.removed, m.verified, m.joinedSeq])]);
    if (!membersBox || (sig !== membersSig && !busyWith(membersBox))) {
      const next = membersPanel(bookletId, all, allEntries, { therapist: therapist(), onChange: update });
      if (membersBox) {
        next.open = membersBox.open;
        membersBox.replaceWith(next);
      } else {
        side.prepend(next);
      }
      membersBox = next;
      membersSig = sig;
      // Members changed (someone joined): a kept invitation form lists what is still pending.
      tools?.querySelector('form[data-form=invite]')?.dispatchEvent(new Event('refresh'));
    }
    if (mine?.role === 'therapist' && canWrite() && !tools) {
      tools = therapistTools(bookletId, { onPosted: update });
      side.append(tools);
    }
    compose.hidden = lifecycle.closed(); // a closed booklet is read-only: no write box
    if (!(mine?.role === 'therapist' && canWrite())) {
      tools?.remove();
      tools = null;
      closeAction?.remove();
      closeAction = null;
    } else if (!closeAction) {
      closeAction = lifecycle.action(update, (text) => error.show(text));
      side.append(closeAction);
    }
    // A closed booklet takes no consents (409 booklet-closed): no consent step either. Like the
    // members panel, drawn again only when what it shows changed and no question is open in it.
    const consentSig = lifecycle.closed() ? 'closed' : JSON.stringify([membersSig, consentRows]);
    if (consentSig !== consentBoxSig && !(consentBox && busyWith(consentBox))) {
      const next = lifecycle.closed() ? null : consentPanel(bookletId, consentRows, all, { onChange: update });
      if (consentBox && next) consentBox.replaceWith(next);
      else if (consentBox) consentBox.remove();
      else if (next) side.prepend(next);
      consentBox = next;
      consentBoxSig = consentSig;
    }
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

  /**
   * The newest page at once (with the title from the booklet list), before the read of the whole
   * booklet that the history check needs.
   */
  async function firstPage() {
    try {
      const [, list] = await Promise.all([refreshMembers(), api('GET', '/api/booklets')]);
      if (all.some((m) => m.changed && !m.removed)) return;
      const row = list.booklets.find((b) => b.id === bookletId);
      const [newest, title] = await Promise.all([readNewest(opener, PAGE), row ? bookletTitle(row, opener) : null]);
      if (complete || gone) return;
      rowTitle = title;
      entries = newest.entries;
      shownFrom = entries.length ? entries[0].seq : Infinity;
      render();
      scrollToNewest();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) showGone();
      // Anything else: the full read that follows says it.
    }
  }

  async function fetchNew() {
    if (gone) return;
    try {
      await refreshMembers();
      consentRows = await caregivers(bookletId);
      await lifecycle.refresh();
      const changed = all.filter((m) => m.changed && !m.removed);
      if (changed.length) return blocked(changed);
      // While the history does not add up, read it all again: a later page that adds up on its
      // own must not clear the warning while the earlier finding still stands.
      const since = !complete || rereadAll || problems.some((p) => p.code !== 'membership-restarted') ? 0 : lastSeq;
      rereadAll = false;
      const atNewest = nearNewest();
      const fresh = await readEntries(opener, since);
      entries = since ? entries.concat(fresh.entries.filter((e) => e.seq > lastSeq)) : fresh.entries;
      if (!complete) {
        // The first full read keeps what the first page showed; a booklet with no first page shows its newest page.
        shownFrom = Number.isFinite(shownFrom) ? shownFrom : (entries[Math.max(0, entries.length - PAGE)]?.seq ?? Infinity);
      }
      complete = true;
      lastSeq = Math.max(lastSeq, fresh.lastSeq);
      problems = fresh.problems;
      restarts = [...restarts, ...problems.filter((p) => p.code === 'membership-restarted'
        && !restarts.some((r) => r.seq === p.seq) && !restartsSeen.has(restartKey(p)))];
      showHistory();
      receipts = (await api('GET', `/api/booklets/${bookletId}/receipts`)).receipts;
      if (gone) return;
      render();
      if (atNewest) scrollToNewest();
      if (!appointmentsShown && me() && !me().removed) {
        appointmentsShown = true;
        appointmentsPanel(appointments, bookletId, me().role);
      }
      await markRead();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return showGone();
      if (e instanceof ApiError && ['consent-pending', 'membership-expired'].includes(e.type)) {
        gone = true; // a caregiver waiting for the guardians, or whose time ended
        replace(body, h('p', { class: 'notice', role: 'alert' }, caregiverNotice(e)));
        return;
      }
      error.show(describeError(e));
    } finally {
      updateJump();
    }
  }

  /** I am no longer a member: say so at once, with a heading that is not "Loading…". */
  function showGone() {
    gone = true;
    if (heading.textContent === t('loading')) heading.textContent = t('booklet');
    appointments.hidden = true;
    historyBox.hidden = true;
    replace(body, h('p', { class: 'notice', role: 'alert' }, t('no_longer_member')));
    main.dataset.ready = 'true';
  }

  function showHistory() {
    const at = (p) => p.seq ?? p.from;
    const shown = [...problems.filter((p) => p.code !== 'membership-restarted'), ...restarts].sort((a, b) => at(a) - at(b));
    historyBox.show(shown, me()?.role === 'therapist');
  }

  /** Show the next page of earlier entries above, keeping what is on screen where it is. */
  async function showEarlier() {
    if (!complete) await allEntries().catch(() => null);
    const older = entries.filter((e) => e.seq < shownFrom);
    if (!older.length) return;
    const scroller = document.scrollingElement ?? document.documentElement;
    const before = scroller.scrollHeight;
    shownFrom = older[Math.max(0, older.length - PAGE)].seq;
    queue = queue.then(() => render());
    await queue;
    scroller.scrollTop += scroller.scrollHeight - before;
  }

  /** The write box, sticky at the bottom, covers the last lines: keep its height out of view. */
  const composeHeight = () => (compose.isConnected ? compose.getBoundingClientRect().height : 0);
  function nearNewest() {
    const last = timeline.lastElementChild;
    if (!last) return true;
    // In view above the write box; scrolled past it (to the tools below) is not "at the newest".
    const { bottom } = last.getBoundingClientRect();
    return bottom > 0 && bottom <= window.innerHeight - composeHeight() + 40;
  }
  /** At the newest entry until the reader scrolls away: what loads above (appointments, a warning) keeps it in view. */
  let pinned = false;
  function scrollToNewest() {
    const last = timeline.lastElementChild;
    if (!last) return;
    pinned = true;
    const y = window.scrollY + last.getBoundingClientRect().bottom - (window.innerHeight - composeHeight()) + 16;
    window.scrollTo(0, Math.max(0, y));
    updateJump();
  }
  const jump = h('button', { type: 'button', class: 'secondary jump', hidden: true, onclick: () => {
    scrollToNewest();
    compose.elements.namedItem('text')?.focus({ preventScroll: true });
  } }, t('jump_newest'));
  /** "Jump to newest" only while the newest entry is out of view; never hidden while it has focus. */
  function updateJump() {
    if (document.activeElement === jump) return;
    jump.hidden = nearNewest();
  }
  let ticking = false;
  const onScroll = () => {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(() => {
      ticking = false;
      pinned = nearNewest();
      updateJump();
    });
  };
  const resized = typeof ResizeObserver === 'function'
    ? new ResizeObserver(() => { if (pinned && !gone) scrollToNewest(); })
    : null;
  resized?.observe(main);
  // Scrolled near the earliest shown entry: show the earlier ones (the button does it by keyboard).
  const nearTop = typeof IntersectionObserver === 'function'
    ? new IntersectionObserver((seen) => { if (seen.some((x) => x.isIntersecting) && !earlier.hidden && complete) showEarlier(); }, { rootMargin: '200px 0px 0px 0px' })
    : null;
  nearTop?.observe(earlier);

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

  const compose = h('form', { class: 'card compose', 'data-form': 'note' },
    field(t('write_note'), { name: 'text', required: true, maxlength: 20000, rows: 3 }, { tag: 'textarea' }),
    h('div', { class: 'row compose-actions' }, h('button', { type: 'submit', class: 'primary' }, t('send')), jump));
  const composeError = errorBox();
  compose.insertBefore(composeError, compose.lastChild);
  // Files chosen make the text optional: a document entry may be its files alone.
  const attach = attachBox(bookletId, compose, () => {
    compose.elements.namedItem('text').required = !attach.count();
    fulfil.refresh(attach.count() > 0 && me()?.role === 'therapist');
  });
  const fulfil = fulfilChoice(bookletId);
  compose.insertBefore(attach.panel, composeError);
  compose.insertBefore(fulfil.panel, composeError);
  compose.lastChild.prepend(...attach.buttons);
  compose.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const area = compose.elements.namedItem('text');
    const text = area.value.trim();
    if (!text && !attach.count()) return;
    // A failed send keeps the text and the files and says why (busy shows the error); only a stored one clears them.
    await busy(compose, composeError, async () => {
      if (attach.count()) {
        if (!await sendFiles(text)) return;
      } else if (!await unlessCancelled(() => post(bookletId, 'note', { text }, askingBeside(compose, bookletId)))) return;
      if (area.value.trim() === text) area.value = '';
      await update();
      scrollToNewest();
      announce(t('sent'));
    });
  });

  /** Upload the chosen files, then post the document entry naming them; false when not sent. @param {string} text */
  async function sendFiles(text) {
    const attachments = await attach.upload();
    if (!attachments) return false;
    const fields = text ? { attachments, text } : { attachments };
    try {
      const opts = { ...askingBeside(compose, bookletId, 'send', 'document'), blobIds: attachments.map((a) => a.blob_id),
        fulfilsRequest: fulfil.value() };
      if (!await unlessCancelled(() => post(bookletId, 'document', fields, opts))) return false;
    } catch (e) {
      if (e instanceof ApiError && e.type === 'blob-unknown') attach.forgetUploads(); // expired: upload again
      throw e;
    }
    attach.clear();
    return true;
  }

  replace(body, h('section', { class: 'entries' }, earlier, timeline), compose, side, accessLogPanel(bookletId, () => all),
    documentRequestsPanel(bookletId), sharesPanel(bookletId, () => entries, () => me()?.role), exportPanel(bookletId));
  replace(main, h('p', null, h('a', { href: '#/', class: 'back' }, `← ${t('back')}`)), heading, lifecycle.banner, historyBox, error, appointments, body);

  /** The appointments again, unless a cancellation is being confirmed there; an open list stays open. */
  function refreshAppointments() {
    if (!appointmentsShown || busyWith(appointments)) return;
    const wasOpen = appointments.querySelector('.appts-earlier')?.hasAttribute('open');
    appointmentsPanel(appointments, bookletId, me()?.role ?? '').then(() => {
      if (wasOpen) appointments.querySelector('.appts-earlier')?.setAttribute('open', '');
    });
  }

  const stop = onEvent((event) => {
    if (event.booklet_id !== bookletId || gone) return;
    if (event.type === 'removed') {
      showGone();
    } else if (event.type === 'grant') {
      rereadAll = true; // the title and earlier entries open now
      update();
    } else if (event.type === 'appointments') {
      refreshAppointments();
    } else {
      update();
    }
  });
  const stopMembers = onMember((event) => {
    if (event.booklet_id === bookletId && !gone) update();
  });
  const visible = () => markRead();
  document.addEventListener('visibilitychange', visible);
  window.addEventListener('scroll', onScroll, { passive: true });
  const started = performance.now();
  queue = firstPage().then(() => {
    if (!gone && entries.length) {
      document.documentElement.dataset.bookletNewestMs = String(Math.round(performance.now() - started));
      main.dataset.newest = 'true';
    }
  });
  update().then(() => {
    document.documentElement.dataset.bookletRenderMs = String(Math.round(performance.now() - started));
    main.dataset.ready = 'true';
  });
  return () => {
    restarts.forEach((r) => restartsSeen.add(restartKey(r))); // left the booklet: shown once is enough
    stop();
    nearTop?.disconnect();
    resized?.disconnect();
    stopMembers();
    document.removeEventListener('visibilitychange', visible);
    window.removeEventListener('scroll', onScroll);
  };
}
