/**
 * Documents shared with someone outside the booklet (docs/protocol.md §4.8, §10.7): the list a
 * booklet's members see (to whom, until when, opened or not), "Withdraw" for therapists and
 * guardians, and "Share with the doctor" for a document entry's file. Sharing seals the file's
 * record on this device under a key from a link secret and a code; the server texts the code
 * and never sees the link, which this panel shows to be copied into the sharer's own e-mail.
 * Its texts live here, in fi/sv/en, to keep the panel in one module.
 */
import { api, describeError } from '../api.mjs';
import { announce, h, replace } from '../dom.mjs';
import { lang } from '../i18n.mjs';
import { fromHex, toBase64url, toHex } from '../../crypto/encoding.mjs';
import { deriveShareKeys, newCode, sealShare, shareLink } from '../../crypto/share.mjs';
import { randomBytes } from '../../crypto/primitives.mjs';
import { errorBox } from './common.mjs';

/** @type {Record<string, Record<string, string>>} */
const TEXTS = {
  en: {
    title: 'Shared outside the booklet', intro: 'Documents given to someone without an account, such as the child\'s doctor: a link (send it by your own e-mail) and a code the service texts to their mobile.',
    none: 'Nothing shared.', file: 'File', phone: 'Recipient\'s mobile number', share: 'Share',
    link: 'Link for the recipient: copy it into your e-mail. The code goes by text message.',
    withdraw: 'Withdraw', item: 'Entry {seq} to …{to}: {state}, opened {opens}/{max}, until {until}',
    open: 'open', used: 'opened', expired: 'expired', revoked: 'withdrawn', locked: 'locked (wrong codes)', done: 'Shared. The code was sent by text message.',
  },
  fi: {
    title: 'Jaettu vihon ulkopuolelle', intro: 'Asiakirjat, jotka on annettu henkilölle ilman tiliä, kuten lapsen lääkärille: linkki (lähetä se omalla sähköpostillasi) ja koodi, jonka palvelu lähettää hänen matkapuhelimeensa.',
    none: 'Ei jakoja.', file: 'Tiedosto', phone: 'Vastaanottajan matkapuhelinnumero', share: 'Jaa',
    link: 'Linkki vastaanottajalle: kopioi se sähköpostiisi. Koodi menee tekstiviestillä.',
    withdraw: 'Peru jako', item: 'Merkintä {seq}, …{to}: {state}, avattu {opens}/{max}, {until} asti',
    open: 'avoinna', used: 'avattu', expired: 'vanhentunut', revoked: 'peruttu', locked: 'lukittu (väärät koodit)', done: 'Jaettu. Koodi lähetettiin tekstiviestillä.',
  },
  sv: {
    title: 'Delat utanför häftet', intro: 'Dokument som getts till någon utan konto, till exempel barnets läkare: en länk (skicka den med din egen e-post) och en kod som tjänsten sms:ar till mottagarens mobil.',
    none: 'Inget delat.', file: 'Fil', phone: 'Mottagarens mobilnummer', share: 'Dela',
    link: 'Länk till mottagaren: kopiera den till din e-post. Koden skickas per sms.',
    withdraw: 'Dra tillbaka', item: 'Anteckning {seq} till …{to}: {state}, öppnad {opens}/{max}, till {until}',
    open: 'öppen', used: 'öppnad', expired: 'utgången', revoked: 'tillbakadragen', locked: 'låst (fel koder)', done: 'Delat. Koden skickades per sms.',
  },
};

/** @param {string} key @param {Record<string, string | number>} [vars] */
const tx = (key, vars = {}) => (TEXTS[lang()] ?? TEXTS.en)[key].replace(/\{(\w+)\}/g, (_, n) => String(vars[n] ?? ''));

/**
 * Seal file `file` of an entry for an outsider and create the share; the link.
 * @param {string} bookletId @param {number} seq @param {Record<string, any>} file @param {string} phone
 */
export async function createShare(bookletId, seq, file, phone) {
  const shareId = randomBytes(16);
  const linkSecret = randomBytes(16);
  const code = newCode();
  const keys = await deriveShareKeys(shareId, linkSecret, code);
  const sealed = await sealShare(keys, shareId, { bookletId: fromHex(bookletId), attachment: file }, randomBytes(12));
  await api('POST', `/api/booklets/${bookletId}/shares`, {
    id: toHex(shareId), entry_seq: seq, blob_id: file.blob_id, sealed: toBase64url(sealed),
    verifier: toBase64url(keys.verifier), phone, code, language: lang(),
  });
  return shareLink(location.origin, shareId, linkSecret);
}

/**
 * The panel. `entries` gives the decrypted entries; `role` the reader's role.
 * @param {string} bookletId @param {() => import('../data.mjs').Entry[]} entries @param {() => string | undefined} role
 */
export function sharesPanel(bookletId, entries, role) {
  const list = h('ul', { class: 'shares-list' });
  const errors = h('div');
  const result = h('div', { class: 'share-result' });
  const may = () => role() === 'therapist' || role() === 'guardian';
  const files = () => entries().flatMap((e) => (e.kind === 'document' && Array.isArray(e.payload?.attachments)
    ? e.payload.attachments.map((/** @type {Record<string, any>} */ a) => ({ seq: e.seq, file: a })) : []));

  async function refresh() {
    try {
      const { items } = await api('GET', `/api/booklets/${bookletId}/shares`);
      replace(list, ...(items.length ? items.map((/** @type {Record<string, any>} */ s) => {
        const li = h('li', { class: 'share-item', 'data-state': s.state }, tx('item', {
          seq: s.entry_seq, to: s.to, state: tx(s.state), opens: s.opens, max: s.max_opens,
          until: new Date(s.expires_at).toLocaleDateString(),
        }));
        if (may() && s.state === 'open') {
          const b = h('button', { type: 'button' }, tx('withdraw'));
          b.addEventListener('click', async () => {
            try {
              await api('POST', `/api/booklets/${bookletId}/shares/${s.id}/revoke`);
              await refresh();
            } catch (e) { replace(errors, errorBox(describeError(e))); }
          });
          li.append(' ', b);
        }
        return li;
      }) : [h('li', null, tx('none'))]));
    } catch (e) { replace(errors, errorBox(describeError(e))); }
  }

  const select = h('select', { id: 'share-file' });
  const phone = h('input', { id: 'share-phone', type: 'tel', autocomplete: 'off', required: true });
  const form = h('form', { class: 'share-form' },
    h('label', { for: 'share-file' }, tx('file')), select,
    h('label', { for: 'share-phone' }, tx('phone')), phone,
    h('button', { type: 'submit' }, tx('share')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = files()[Number(/** @type {HTMLSelectElement} */ (select).value)];
    if (!chosen) return;
    replace(errors);
    try {
      const link = await createShare(bookletId, chosen.seq, chosen.file, /** @type {HTMLInputElement} */ (phone).value);
      replace(result, h('p', null, tx('link')), h('input', { type: 'text', readonly: true, value: link, 'aria-label': tx('link'), class: 'share-link' }));
      announce(tx('done'));
      await refresh();
    } catch (e) { replace(errors, errorBox(describeError(e))); }
  });

  const panel = h('details', { class: 'card shares' }, h('summary', null, h('h2', null, tx('title'))),
    h('p', null, tx('intro')), list, errors);
  panel.addEventListener('toggle', () => {
    if (!/** @type {HTMLDetailsElement} */ (panel).open) return;
    const options = files();
    replace(select, ...options.map((o, i) => h('option', { value: String(i) }, `#${o.seq}: ${o.file.name}`)));
    if (may() && options.length && !panel.contains(form)) panel.append(form, result);
    refresh();
  });
  return panel;
}
