/**
 * "This answers a request" in the write box (issue 17, item 2): when the therapist attaches
 * files in a booklet with open document requests, she may name the request the document
 * fulfils; the entry post then carries `fulfils_request` (docs/protocol.md) and the request
 * is done. "No request" is the default, so a file is never taken for an answer by accident.
 */
import { api } from '../api.mjs';
import { h, replace } from '../dom.mjs';
import { lang } from '../i18n.mjs';
import { describeRequest } from './document-requests.mjs';

const TEXTS = {
  en: { label: 'This answers a request', none: 'No request' },
  fi: { label: 'Tämä vastaa pyyntöön', none: 'Ei pyyntöä' },
  sv: { label: 'Detta svarar på en begäran', none: 'Ingen begäran' },
};
const rt = (/** @type {'label' | 'none'} */ key) => (TEXTS[lang()] ?? TEXTS.en)[key];

/** The choice; hidden until `refresh(true)` finds open requests. @param {string} bookletId */
export function fulfilChoice(bookletId) {
  const select = /** @type {HTMLSelectElement} */ (h('select', { id: `fulfils-${bookletId}`, name: 'fulfils_request' }));
  const panel = h('p', { class: 'row fulfils-request', hidden: true },
    h('label', { for: select.id }, rt('label')), ' ', select);
  let asked = 0;

  /** Show the open requests when files are chosen; hide otherwise. @param {boolean} wanted */
  async function refresh(wanted) {
    const mine = ++asked; // a later call wins over a slower earlier answer
    if (!wanted) {
      panel.hidden = true;
      return;
    }
    let requests = [];
    try {
      ({ requests } = await api('GET', `/api/booklets/${bookletId}/document-requests`));
    } catch {
      requests = []; // without the list the document is sent as an ordinary one
    }
    if (mine !== asked) return;
    const keep = select.value;
    replace(select, h('option', { value: '' }, rt('none')),
      requests.map((/** @type {any} */ r) => h('option', { value: r.id }, describeRequest(r))));
    select.value = requests.some((/** @type {any} */ r) => r.id === keep) ? keep : '';
    panel.hidden = !requests.length;
  }

  return {
    panel,
    refresh,
    /** The chosen request's id, or undefined. */
    value: () => (panel.hidden || !select.value ? undefined : select.value),
  };
}
