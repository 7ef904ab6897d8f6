/**
 * A booklet's access log (GET /api/booklets/{id}/access-log): who joined, left or was removed,
 * who was shown earlier entries, who read which entries, shares and exports, newest first.
 * The server sends account ids; names come from the booklet's members as this device shows them
 * (nameOf). Opened on demand (a <details>), a page at a time; "Download CSV" fetches every page,
 * saves the file on this device and records the export in the log itself (POST …/exports).
 * Its texts live here, in fi/sv/en, to keep this panel in one module.
 */
import { api, describeError } from '../api.mjs';
import { announce, h, replace } from '../dom.mjs';
import { formatTime, lang, t } from '../i18n.mjs';
import { nameOf } from '../data.mjs';
import { errorBox } from './common.mjs';

/** @type {Record<string, Record<string, string>>} */
export const TEXTS = {
  en: {
    title: 'Access log',
    intro: 'Who has joined this booklet, read its entries, shared or exported them. The service keeps this record; it cannot show what someone does with what they read.',
    more: 'Show older',
    csv: 'Download CSV',
    empty: 'Nothing yet.',
    someone: 'someone outside the booklet',
    service: 'the service',
    unknown: 'an unknown account',
    created: 'opened the booklet',
    joined: 'joined as {role}',
    joined_by: 'joined as {role}, invited by {by}',
    left: 'left the booklet',
    removed: 'removed {member}',
    granted: 'let {member} read {count} earlier entries',
    posted: 'wrote entry {seq}',
    fetched: 'read {count} entries ({ranges})',
    blob: 'downloaded a document (entry {seq})',
    share_created: 'shared a document outside the booklet',
    share_opened: 'opened a document shared with them',
    share_revoked: 'withdrew a share',
    exported: 'exported the booklet',
    exported_log: 'downloaded the access log',
    doc_requested: 'asked for a document',
    doc_done: 'answered a document request (entry {seq})',
    doc_withdrawn: 'withdrew a document request',
    consent_approved: 'approved {member} as a daycare or school member',
    consent_withdrawn: 'withdrew the consent for {member}',
    expired: 'ended {member}’s access at its end date',
    csv_done: 'The access log was saved as a CSV file.',
  },
  fi: {
    title: 'Käyttöloki',
    intro: 'Kuka on liittynyt vihkoon, lukenut sen merkintöjä, jakanut tai vienyt niitä. Palvelu pitää tätä kirjaa; se ei näe, mitä lukija tekee lukemallaan.',
    more: 'Näytä vanhemmat',
    csv: 'Lataa CSV',
    empty: 'Ei vielä mitään.',
    someone: 'joku vihon ulkopuolelta',
    service: 'palvelu',
    unknown: 'tuntematon tili',
    created: 'avasi vihon',
    joined: 'liittyi: {role}',
    joined_by: 'liittyi: {role}, kutsuja {by}',
    left: 'poistui vihosta',
    removed: 'poisti jäsenen {member}',
    granted: 'antoi jäsenelle {member} luettavaksi {count} aiempaa merkintää',
    posted: 'kirjoitti merkinnän {seq}',
    fetched: 'luki {count} merkintää ({ranges})',
    blob: 'latasi asiakirjan (merkintä {seq})',
    share_created: 'jakoi asiakirjan vihon ulkopuolelle',
    share_opened: 'avasi hänelle jaetun asiakirjan',
    share_revoked: 'perui jaon',
    exported: 'vei vihon',
    exported_log: 'latasi käyttölokin',
    doc_requested: 'pyysi asiakirjaa',
    doc_done: 'vastasi asiakirjapyyntöön (merkintä {seq})',
    doc_withdrawn: 'perui asiakirjapyynnön',
    consent_approved: 'hyväksyi jäsenen {member} päiväkodin tai koulun jäseneksi',
    consent_withdrawn: 'perui suostumuksen jäsenelle {member}',
    expired: 'päätti jäsenen {member} pääsyn sen päättymispäivänä',
    csv_done: 'Käyttöloki tallennettiin CSV-tiedostoksi.',
  },
  sv: {
    title: 'Åtkomstlogg',
    intro: 'Vem som har gått med i häftet, läst dess anteckningar, delat eller exporterat dem. Tjänsten för denna logg; den ser inte vad någon gör med det de läst.',
    more: 'Visa äldre',
    csv: 'Ladda ner CSV',
    empty: 'Inget ännu.',
    someone: 'någon utanför häftet',
    service: 'tjänsten',
    unknown: 'ett okänt konto',
    created: 'öppnade häftet',
    joined: 'gick med som {role}',
    joined_by: 'gick med som {role}, inbjuden av {by}',
    left: 'lämnade häftet',
    removed: 'tog bort {member}',
    granted: 'lät {member} läsa {count} tidigare anteckningar',
    posted: 'skrev anteckning {seq}',
    fetched: 'läste {count} anteckningar ({ranges})',
    blob: 'laddade ner ett dokument (anteckning {seq})',
    share_created: 'delade ett dokument utanför häftet',
    share_opened: 'öppnade ett dokument som delats med dem',
    share_revoked: 'drog tillbaka en delning',
    exported: 'exporterade häftet',
    exported_log: 'laddade ner åtkomstloggen',
    doc_requested: 'bad om ett dokument',
    doc_done: 'besvarade en dokumentbegäran (anteckning {seq})',
    doc_withdrawn: 'drog tillbaka en dokumentbegäran',
    consent_approved: 'godkände {member} som medlem från daghem eller skola',
    consent_withdrawn: 'återkallade samtycket för {member}',
    expired: 'avslutade åtkomsten för {member} vid slutdatumet',
    csv_done: 'Åtkomstloggen sparades som en CSV-fil.',
  },
};

/** @param {string} key @param {Record<string, string | number>} [vars] */
const tx = (key, vars = {}) => (TEXTS[lang()] ?? TEXTS.en)[key].replace(/\{(\w+)\}/g, (_, n) => String(vars[n] ?? ''));

/** How many seqs a ranges string ("1-3,5") names; null when it is not one. @param {unknown} text */
export function countRanges(text) {
  if (typeof text !== 'string' || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) return null;
  let n = 0;
  for (const part of text.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    if (b < a) return null;
    n += b - a + 1;
  }
  return n;
}

/**
 * One item as { who, what } in the current language.
 * @param {{actor: string | null, actor_ref: string, action: string, detail: Record<string, any>}} item
 * @param {(accountId: string) => string} nameFor
 * @param {(key: string, vars?: Record<string, string | number>) => string} [tr] this module's texts
 * @param {(key: string) => string} [common] the app's texts (role names)
 */
export function describeAccess(item, nameFor, tr = tx, common = t) {
  const d = item.detail ?? {};
  const who = item.actor ? nameFor(item.actor) : item.actor_ref === 'anonymous' ? tr('someone') : tr('service');
  const role = () => common(`role_${d.role}`);
  /** @type {Record<string, () => string>} */
  const what = {
    'booklet.created': () => tr('created'),
    'member.joined': () => (d.invited_by ? tr('joined_by', { role: role(), by: nameFor(d.invited_by) }) : tr('joined', { role: role() })),
    'member.left': () => tr('left'),
    'member.removed': () => tr('removed', { member: nameFor(d.member) }),
    'history.granted': () => tr('granted', { member: nameFor(d.grantee), count: d.entries }),
    'entry.posted': () => tr('posted', { seq: d.seq }),
    'entries.fetched': () => tr('fetched', { count: countRanges(d.ranges) ?? d.count, ranges: d.ranges ?? `${d.from}-${d.to}` }),
    'blob.fetched': () => tr('blob', { seq: d.seq }),
    'share.created': () => tr('share_created'),
    'share.opened': () => tr('share_opened'),
    'share.revoked': () => tr('share_revoked'),
    'booklet.exported': () => tr(d.kind === 'access-log' ? 'exported_log' : 'exported'),
    'document_request.created': () => tr('doc_requested'),
    'document_request.done': () => tr('doc_done', { seq: d.seq }),
    'document_request.withdrawn': () => tr('doc_withdrawn'),
    'consent.approved': () => tr('consent_approved', { member: nameFor(d.caregiver) }),
    'consent.withdrawn': () => tr('consent_withdrawn', { member: nameFor(d.caregiver) }),
    'member.expired': () => tr('expired', { member: nameFor(d.member) }),
  };
  return { who, what: what[item.action]?.() ?? item.action };
}

/** A CSV cell; a name starting like a formula is quoted so a spreadsheet shows it as text. @param {unknown} v */
function cell(v) {
  let s = String(v ?? '');
  if (/^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The CSV file (the same columns as `secure-msg client access-log --csv`).
 * @param {Array<{at: string, actor: string | null, actor_ref: string, action: string, seq: number, hash: string}>} items
 * @param {(item: any) => {who: string, what: string}} describe
 */
export function accessCsv(items, describe) {
  const rows = [['at', 'who', 'action', 'what', 'actor_id', 'chain_seq', 'hash']];
  for (const i of items) {
    const { who, what } = describe(i);
    rows.push([i.at, who, i.action, what, i.actor ?? i.actor_ref, String(i.seq), i.hash]);
  }
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/**
 * The panel. @param {string} bookletId
 * @param {() => import('../data.mjs').Member[]} membersNow the booklet's members (former too) as last read
 */
export function accessLogPanel(bookletId, membersNow) {
  const list = h('ol', { class: 'access-log-list' });
  const error = errorBox();
  const more = h('button', { type: 'button', hidden: true }, tx('more'));
  const csv = h('button', { type: 'button' }, tx('csv'));
  const details = h('details', { class: 'card access-log' },
    h('summary', null, h('h2', { id: 'access-log-h', class: 'inline' }, tx('title'))),
    h('p', { class: 'muted' }, tx('intro')), error, list, h('p', { class: 'actions' }, more, ' ', csv));
  /** @type {number | null} */
  let cursor = null;
  let loaded = false;

  const nameFor = (/** @type {string} */ id) => {
    const m = membersNow().find((x) => x.id === id);
    return m ? nameOf(m, t) : tx('unknown');
  };
  const describe = (item) => describeAccess(item, nameFor);
  const path = (c, limit) => `/api/booklets/${bookletId}/access-log?limit=${limit}${c ? `&cursor=${c}` : ''}`;

  async function loadPage(reset) {
    error.clear();
    try {
      const page = await api('GET', path(reset ? null : cursor, 50));
      const items = page.items.map((i) => {
        const { who, what } = describe(i);
        return h('li', { class: 'access-item', 'data-action': i.action },
          h('time', { datetime: i.at }, formatTime(i.at)), ' ', h('strong', null, who), ' ', what);
      });
      if (reset) replace(list, items.length ? items : h('li', { class: 'quiet' }, tx('empty')));
      else list.append(...items);
      cursor = page.next_cursor;
      more.hidden = cursor === null;
    } catch (e) {
      error.show(describeError(e));
    }
  }

  async function downloadCsv() {
    error.clear();
    csv.disabled = true;
    try {
      const all = [];
      let c = null;
      for (let n = 0; n < 10_000; n++) {
        const page = await api('GET', path(c, 200));
        all.push(...page.items);
        c = page.next_cursor;
        if (c === null) break;
      }
      const url = URL.createObjectURL(new Blob([accessCsv(all, describe)], { type: 'text/csv;charset=utf-8' }));
      const a = h('a', { href: url, download: `access-log-${new Date().toISOString().slice(0, 10)}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      await api('POST', `/api/booklets/${bookletId}/exports`, { kind: 'access-log' });
      announce(tx('csv_done'));
      await loadPage(true);
    } catch (e) {
      error.show(describeError(e));
    } finally {
      csv.disabled = false;
    }
  }

  details.addEventListener('toggle', () => {
    if (details.open && !loaded) {
      loaded = true;
      loadPage(true);
    }
  });
  more.addEventListener('click', () => loadPage(false));
  csv.addEventListener('click', downloadCsv);
  return details;
}
