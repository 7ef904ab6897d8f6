/**
 * Document requests in the booklet (issue 17, item 2): a guardian's "Request a statement"
 * action, and the open requests, which the therapist answers by posting the document
 * (`secure-msg client post … --kind document --fulfils REQUEST`). The server holds only the
 * kind and dates (docs/threat-model.md §3.9); anything more the family writes as a note.
 * GET/POST /api/booklets/{id}/document-requests, POST …/{request}/withdraw.
 */
import { api, describeError } from '../api.mjs';
import { announce, field, h, replace } from '../dom.mjs';
import { lang } from '../i18n.mjs';
import { onEvent } from '../live.mjs';
import { state } from '../session.mjs';
import { errorBox } from './common.mjs';

export const TEXTS = {
  en: {
    title: 'Document requests',
    intro_guardian: 'Ask the therapist for a written document, such as the statement for the doctor\u2019s evaluation visit. Anything more you want to say, write as a message.',
    intro_therapist: 'Documents the family has asked for. Answer by posting the document; the family is told there is a new message.',
    ask: 'Request a statement',
    due: 'Needed by (optional)',
    asked: 'Your request was sent to the therapist.',
    none: 'No open requests.',
    statement: 'Statement',
    plan: 'Therapy plan',
    other: 'Other document',
    line: 'asked {asked}',
    line_due: 'asked {asked}, needed by {due}',
    withdraw: 'Withdraw',
    withdrawn: 'The request was withdrawn.',
    not_open: 'The request was already answered or withdrawn.',
    closed: 'The booklet is closed: no new requests.',
  },
  fi: {
    title: 'Asiakirjapyynnöt',
    intro_guardian: 'Pyydä terapeutilta kirjallinen asiakirja, esimerkiksi lausunto lääkärin arviokäyntiä varten. Jos haluat kertoa enemmän, kirjoita se viestinä.',
    intro_therapist: 'Perheen pyytämät asiakirjat. Vastaa lähettämällä asiakirja; perhe saa tiedon uudesta viestistä.',
    ask: 'Pyydä lausunto',
    due: 'Tarvitaan viimeistään (valinnainen)',
    asked: 'Pyyntösi lähti terapeutille.',
    none: 'Ei avoimia pyyntöjä.',
    statement: 'Lausunto',
    plan: 'Terapiasuunnitelma',
    other: 'Muu asiakirja',
    line: 'pyydetty {asked}',
    line_due: 'pyydetty {asked}, tarvitaan {due} mennessä',
    withdraw: 'Peru pyyntö',
    withdrawn: 'Pyyntö peruttiin.',
    not_open: 'Pyyntöön on jo vastattu tai se on peruttu.',
    closed: 'Vihko on suljettu: uusia pyyntöjä ei voi tehdä.',
  },
  sv: {
    title: 'Begärda dokument',
    intro_guardian: 'Be terapeuten om ett skriftligt dokument, till exempel utlåtandet inför läkarens bedömningsbesök. Vill du säga mer, skriv det som ett meddelande.',
    intro_therapist: 'Dokument som familjen har bett om. Svara genom att skicka dokumentet; familjen får veta att det finns ett nytt meddelande.',
    ask: 'Begär utlåtande',
    due: 'Behövs senast (frivilligt)',
    asked: 'Din begäran skickades till terapeuten.',
    none: 'Inga öppna begäranden.',
    statement: 'Utlåtande',
    plan: 'Terapiplan',
    other: 'Annat dokument',
    line: 'begärt {asked}',
    line_due: 'begärt {asked}, behövs senast {due}',
    withdraw: 'Dra tillbaka',
    withdrawn: 'Begäran drogs tillbaka.',
    not_open: 'Begäran är redan besvarad eller tillbakadragen.',
    closed: 'Häftet är stängt: inga nya begäranden.',
  },
};

const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };

/** @param {string} key @param {Record<string, string>} [vars] */
export const tx = (key, vars = {}) => (TEXTS[lang()] ?? TEXTS.en)[key].replace(/\{(\w+)\}/g, (_, n) => String(vars[n] ?? ''));

/** A day as the reader's locale writes it. @param {string} iso a date or a date-time */
const day = (iso) => new Date(iso.length === 10 ? `${iso}T12:00:00Z` : iso)
  .toLocaleDateString(LOCALES[lang()] ?? 'en-GB', { day: 'numeric', month: 'numeric', year: 'numeric' });

/**
 * One request's line. @param {{kind: string, created_at: string, due: string | null}} r
 * @param {(key: string, vars?: Record<string, string>) => string} [tr]
 */
export function describeRequest(r, tr = tx) {
  const what = tr(['statement', 'plan', 'other'].includes(r.kind) ? r.kind : 'other');
  const when = r.due ? tr('line_due', { asked: day(r.created_at), due: day(r.due) }) : tr('line', { asked: day(r.created_at) });
  return `${what}: ${when}`;
}

/** describeError with this module's own texts for its two named problems. @param {unknown} e */
function explain(e) {
  const type = /** @type {any} */ (e)?.type;
  if (type === 'document-request-not-open') return tx('not_open');
  if (type === 'booklet-closed') return tx('closed');
  return describeError(e);
}

/** The panel; it finds my role itself, so the booklet view needs one line. @param {string} bookletId */
export function documentRequestsPanel(bookletId) {
  const list = h('ul', { class: 'doc-requests-list' });
  const error = errorBox();
  const intro = h('p', { class: 'muted' });
  const form = h('form', { class: 'row doc-request-form', hidden: true, 'data-form': 'document-request' },
    field(tx('due'), { name: 'due', type: 'date' }),
    h('button', { type: 'submit', class: 'primary', 'data-action': 'request-statement' }, tx('ask')));
  const section = h('section', { class: 'card doc-requests', 'aria-labelledby': 'doc-requests-h' },
    h('h2', { id: 'doc-requests-h' }, tx('title')), intro, error, list, form);
  let role = '';

  async function load() {
    error.clear();
    try {
      if (!role) {
        const { members } = await api('GET', `/api/booklets/${bookletId}/members`);
        role = members.find((m) => m.account_id === state.account?.id && !m.removed)?.role ?? '';
      }
      const { requests } = await api('GET', `/api/booklets/${bookletId}/document-requests`);
      const mayWithdraw = role === 'guardian' || role === 'therapist';
      section.hidden = role !== 'guardian' && role !== 'therapist';
      intro.textContent = tx(role === 'therapist' ? 'intro_therapist' : 'intro_guardian');
      form.hidden = role !== 'guardian';
      replace(list, requests.length ? requests.map((r) => h('li', { class: 'doc-request', 'data-kind': r.kind, 'data-request': r.id },
        describeRequest(r), ' ',
        mayWithdraw ? withdrawButton(r.id) : null)) : h('li', { class: 'quiet' }, tx('none')));
    } catch (e) {
      error.show(explain(e));
    }
  }

  /** @param {string} requestId */
  function withdrawButton(requestId) {
    const button = h('button', { type: 'button', class: 'link', 'data-action': 'withdraw-request' }, tx('withdraw'));
    button.addEventListener('click', async () => {
      button.disabled = true;
      error.clear();
      try {
        await api('POST', `/api/booklets/${bookletId}/document-requests/${requestId}/withdraw`);
        announce(tx('withdrawn'));
      } catch (e) {
        error.show(explain(e));
      }
      await load();
    });
    return button;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const due = /** @type {HTMLInputElement} */ (form.elements.namedItem('due')).value;
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    error.clear();
    try {
      await api('POST', `/api/booklets/${bookletId}/document-requests`, { kind: 'statement', ...(due ? { due } : {}) });
      form.reset();
      announce(tx('asked'));
      await load();
    } catch (e) {
      error.show(explain(e));
    } finally {
      if (button) button.disabled = false;
    }
  });
  section.hidden = true;
  load();
  // A new entry may be the document that answers a request: read the list again. The panel
  // lets go once the booklet view has replaced it.
  const stop = onEvent((event) => {
    if (!section.isConnected) return stop();
    if (event.booklet_id === bookletId && event.type === 'entry') load();
  });
  return section;
}
