/** The list of my booklets: decrypted titles and unread counts (announced, not shown by colour alone). */
import { api, describeError } from '../api.mjs';
import { announce, field, h, replace } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { bookletTitle, post } from '../data.mjs';
import { onEntry, onEvent } from '../live.mjs';
import { state } from '../session.mjs';
import { busy, errorBox } from './common.mjs';
import { askingBeside, unlessCancelled } from './confirm.mjs';
import { noticeProblems } from './notice-problems.mjs';
import { stateNotice } from './state-notice.mjs';

/** @param {HTMLElement} main @returns {() => void} cleanup */
export function inboxView(main) {
  const list = h('ul', { class: 'booklets', 'aria-labelledby': 'inbox-h' });
  const status = h('p', { class: 'muted', role: 'status' }, t('loading'));
  const error = errorBox();
  /** @type {Map<string, {seq: number, title: string | null}>} */
  const cache = new Map();
  const titleOf = (id) => cache.get(id)?.title ?? null;

  async function load() {
    try {
      const { booklets } = await api('GET', '/api/booklets');
      await Promise.all(booklets.filter((b) => cache.get(b.id)?.seq !== b.last_seq).map(async (b) => {
        cache.set(b.id, { seq: b.last_seq, title: await bookletTitle(b) });
      }));
      status.textContent = booklets.length ? '' : t('no_booklets');
      replace(list, booklets.map((b) => item(b, titleOf(b.id))));
      return booklets;
    } catch (e) {
      error.show(describeError(e));
      return [];
    }
  }

  const stop = onEntry(async (event) => {
    const booklets = await load();
    const b = booklets.find((x) => x.id === event.booklet_id);
    if (b && event.author_id !== state.account?.id) announce(t('new_entries_in', { title: titleOf(b.id) ?? t('untitled') }));
  });

  // A grant can make a title readable without a new entry; a removal takes a booklet away.
  const stopOthers = onEvent((event) => {
    if (event.type !== 'grant' && event.type !== 'removed') return;
    cache.delete(event.booklet_id);
    load();
  });

  const therapist = state.account?.role === 'therapist';
  const loaded = load();
  replace(main,
    h('h1', { id: 'inbox-h' }, t('inbox_title')),
    stateNotice(), status, error, list,
    therapist ? noticeProblems(titleOf, loaded) : null,
    therapist ? newBookletForm(load) : null,
    h('section', { id: 'appointments-hook', class: 'hook', hidden: true, 'aria-label': 'appointments' }));
  return () => {
    stop();
    stopOthers();
  };
}

/** One booklet in the list: a link whose accessible name includes the unread count. */
function item(b, title) {
  const name = title ?? t('untitled');
  const unread = b.unread > 0;
  return h('li', { class: unread ? 'booklet unread' : 'booklet', 'data-booklet': b.id },
    h('a', { href: `#/b/${b.id}`, class: 'booklet-link' },
      h('span', { class: 'booklet-title' }, name),
      unread
        ? h('span', { class: 'badge' }, h('span', { 'aria-hidden': 'true' }, t('unread', { n: b.unread })),
          h('span', { class: 'visually-hidden' }, `, ${t('unread_sr', { n: b.unread })}`))
        : h('span', { class: 'visually-hidden' }, `, ${t('no_unread')}`)));
}

/** Therapists open a booklet: create it, then post its (encrypted) title as the first entry. */
export function newBookletForm(reload) {
  const error = errorBox();
  const form = h('form', { class: 'card' },
    h('h2', null, t('new_booklet')),
    field(t('booklet_title'), { name: 'title', required: true, maxlength: 200 }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('create')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const title = form.elements.namedItem('title').value.trim();
    if (!title) return;
    await busy(form, error, async () => {
      const { id } = await api('POST', '/api/booklets');
      // Only I am a member yet: anyone else the server added is asked about. Cancelled, the
      // booklet stays untitled.
      if (await unlessCancelled(() => post(id, 'title', { title }, askingBeside(form, id, 'send', 'title')))) form.reset();
      await reload();
      location.hash = `#/b/${id}`;
    });
  });
  return form;
}
