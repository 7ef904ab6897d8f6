/** How each kind of entry looks: notes, homework task cards (with logging), logs, titles, documents. */
import { fromBase64url } from '../../crypto/index.mjs';
import { describeError } from '../api.mjs';
import { h } from '../dom.mjs';
import { formatTime, t } from '../i18n.mjs';
import { nameOf } from '../data.mjs';
import { state } from '../session.mjs';
import { errorBox } from './common.mjs';
import { attachmentList } from './files.mjs';
import { sanitiseFilename } from '../../crypto/file-meta.mjs';

const DAY_MS = 86400000;

/** YYYY-MM-DD in local time. @param {Date} d */
export const isoDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

/**
 * Logs per homework entry: how many "done" days fall in the last 7 days (today included).
 * @param {import('../data.mjs').Entry[]} entries @returns {Map<string, number>}
 */
export function weeklyCounts(entries, today = new Date()) {
  const from = isoDay(new Date(today.getTime() - 6 * DAY_MS));
  const to = isoDay(today);
  const out = new Map();
  for (const e of entries) {
    if (e.kind !== 'homework-log' || !e.payload?.done) continue;
    const date = String(e.payload.date);
    if (date < from || date > to) continue;
    out.set(e.payload.homework, (out.get(e.payload.homework) ?? 0) + 1);
  }
  return out;
}

/** "Done N times in the last 7 days". @param {number} n */
export const weekSummary = (n) => (n === 0 ? t('done_none_week') : n === 1 ? t('done_once_week') : t('done_times_week', { n }));

/**
 * @typedef {object} RenderContext
 * @property {string} bookletId
 * @property {Map<string, import('../data.mjs').Member>} members
 * @property {Map<string, import('../data.mjs').Entry>} byId
 * @property {Map<string, number>} counts
 * @property {{account_id: string, read_seq: number}[]} receipts
 * @property {boolean} canWrite
 * @property {boolean} canLog a family member (the therapist does not log her own homework)
 * @property {(entry: import('../data.mjs').Entry, how: string, form: HTMLElement) => Promise<boolean>} logHomework
 *   the form, to ask beside it; false when the writer cancelled; throws when it failed
 */

/**
 * What an entry's look depends on besides the entry itself: the page re-renders an entry only
 * when this changes, so an open form in it (and what is typed there) stays.
 * @param {import('../data.mjs').Entry} e @param {RenderContext} ctx
 */
export function entrySignature(e, ctx) {
  const parts = [e.payload ? 1 : 0, e.error ?? '', nameOf(ctx.members.get(e.authorId), t), readByNames(e, ctx).join(',')];
  if (e.kind === 'homework') parts.push(ctx.counts.get(e.id) ?? 0, ctx.canLog);
  if (e.kind === 'homework-log') parts.push(ctx.byId.get(e.payload?.homework)?.payload?.task ?? '');
  return JSON.stringify(parts);
}

/** @param {import('../data.mjs').Entry} e @param {RenderContext} ctx */
export function renderEntry(e, ctx) {
  const who = nameOf(ctx.members.get(e.authorId), t);
  const time = h('time', { datetime: e.createdAt }, formatTime(e.createdAt));
  // Every kind names its author, so nothing reads as if it came from the service itself.
  const byline = () => [' · ', h('span', { class: 'author' }, who), ' · ', time];
  const meta = (label) => h('p', { class: 'meta' }, h('span', { class: 'kind' }, label), byline());
  const attrs = (kind) => ({ class: `entry entry-${kind}`, 'data-seq': e.seq, 'data-kind': e.kind, 'data-entry': e.id });
  if (!e.payload) {
    return h('li', attrs('error'), meta('!'), h('p', { class: 'text' }, t('cannot_open', { code: e.error ?? '' })));
  }
  const p = e.payload;
  switch (e.kind) {
    case 'title':
      return h('li', attrs('title'), h('p', { class: 'quiet' }, `${t('kind_title')}: `, h('q', null, p.title), byline()));
    case 'homework':
      return h('li', attrs('homework'), taskCard(e, ctx, meta(t('kind_homework'))));
    case 'homework-log': {
      const task = ctx.byId.get(p.homework)?.payload?.task ?? '…';
      return h('li', attrs('log'),
        h('p', { class: 'log' }, h('span', { class: 'tick', 'aria-hidden': 'true' }, p.done ? '✓ ' : '– '),
          h('span', { class: 'visually-hidden' }, `${t('kind_log')}: `),
          t('log_line', { who, task, how: p.how }), ' · ', time));
    }
    case 'document':
      // The second form names files kept as blobs (§4.5); the first carries one file inline.
      return h('li', attrs('note'), h('article', null, meta(t('kind_document')),
        p.attachments ? [p.text ? h('p', { class: 'text' }, p.text) : null, attachmentList(ctx.bookletId, p.attachments)] : documentLink(p),
        readBy(e, ctx)));
    case 'system':
      return h('li', attrs('system'), h('p', { class: 'quiet' }, `${t('kind_system')}: `, p.text, byline()));
    default:
      return h('li', attrs('note'), h('article', null, meta(t('kind_note')), h('p', { class: 'text' }, p.text), readBy(e, ctx)));
  }
}

/** The other current members whose receipt covers my own entry. @returns {string[]} */
function readByNames(e, ctx) {
  if (e.authorId !== state.account?.id) return [];
  return ctx.receipts
    .filter((r) => r.account_id !== state.account.id && r.read_seq >= e.seq && ctx.members.get(r.account_id) && !ctx.members.get(r.account_id).removed)
    .map((r) => nameOf(ctx.members.get(r.account_id), t));
}

/** "Read by …" under my own entries. */
function readBy(e, ctx) {
  const names = readByNames(e, ctx);
  return names.length ? h('p', { class: 'receipt' }, t('read_by', { names: names.join(', ') })) : null;
}

/** How long a download's blob URL lives: long enough for any browser to start saving it. */
const DOWNLOAD_URL_MS = 30_000;

/** Standard or url-safe base64 to bytes, or null. @param {unknown} data */
function documentBytes(data) {
  try {
    return fromBase64url(String(data).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
  } catch {
    return null;
  }
}

/**
 * A decrypted document: a button that saves it. The blob URL is made on click and revoked soon
 * after, so decrypted files do not pile up in memory with every render.
 */
function documentLink(p) {
  const name = sanitiseFilename(p.name);
  const bytes = documentBytes(p.data);
  if (!bytes) return h('p', { class: 'text' }, name);
  const save = () => {
    const href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    h('a', { href, download: name }).click();
    setTimeout(() => URL.revokeObjectURL(href), DOWNLOAD_URL_MS);
  };
  return h('p', { class: 'text' }, h('button', { type: 'button', class: 'secondary download', onclick: save }, name));
}

/** The homework card: task, how often, weekly summary, and "done today – how did it go?". */
function taskCard(e, ctx, meta) {
  const p = e.payload;
  const headingId = `task-${e.id}`;
  const n = ctx.counts.get(e.id) ?? 0;
  const logError = errorBox();
  const form = h('form', { class: 'log-form', hidden: true, 'data-form': 'homework-log' },
    h('fieldset', null,
      h('legend', null, t('how_legend')),
      ['how_well', 'how_ok', 'how_hard'].map((key, i) => {
        const id = `${headingId}-${key}`;
        return h('div', { class: 'check' }, h('input', { type: 'radio', name: 'how', id, value: t(key), checked: i === 0 }), h('label', { for: id }, t(key)));
      })),
    h('div', { class: 'field' }, h('label', { for: `${headingId}-more` }, t('how_more')), h('input', { id: `${headingId}-more`, name: 'more', maxlength: 500 })),
    logError,
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'primary' }, t('save')),
      h('button', { type: 'button', class: 'secondary', onclick: () => { form.hidden = true; open.hidden = false; open.focus(); } }, t('cancel'))));
  const open = h('button', { type: 'button', class: 'primary done-today', 'aria-describedby': headingId,
    onclick: () => { form.hidden = false; open.hidden = true; form.querySelector('input').focus(); } }, t('done_today'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const choice = form.querySelector('input[name=how]:checked')?.value ?? '';
    const more = form.elements.namedItem('more').value.trim();
    const buttons = [...form.querySelectorAll('button')];
    buttons.forEach((b) => { b.disabled = true; });
    logError.clear();
    try {
      // Cancelled or failed, the form stays open with what was written; failed, it says why.
      if (await ctx.logHomework(e, more ? `${choice} – ${more}` : choice, form)) {
        form.reset();
        form.hidden = true;
        open.hidden = false;
      }
    } catch (err) {
      logError.show(describeError(err));
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return h('article', { class: 'task', 'aria-labelledby': headingId },
    meta,
    h('h3', { id: headingId }, p.task),
    h('p', { class: 'frequency' }, t('frequency', { f: p.frequency })),
    p.text ? h('p', { class: 'text' }, p.text) : null,
    h('p', { class: 'summary', 'data-count': n }, weekSummary(n)),
    ctx.canWrite && ctx.canLog ? [open, form] : null,
    readBy(e, ctx));
}
