/**
 * booklet.html of an export archive (docs/export.md §5), rendered from booklet.json alone: the
 * same page as the Python client's (client/export_html.py), character for character. No script,
 * no external resource (a Content-Security-Policy of `default-src 'none'` tells the browser so
 * too), every string of the booklet escaped: the text is the members' own.
 */

/** @type {Record<string, Record<string, string>>} */
export const TEXTS = {
  en: {
    page_title: 'Booklet export', booklet: 'Booklet', exported_at: 'Exported',
    exported_by: 'Exported by', fingerprint: 'fingerprint', members: 'Members',
    entries: 'Entries', homework: 'Homework', logs: 'Practice log',
    access_log: 'Access log', verification: 'Checking this archive',
    verify_text: 'The archive holds each entry as its author signed it, and the exporter signed the whole. Check it with: secure-msg client verify-export FILE',
    when: 'When', who: 'Who', what: 'What', role: 'Role', name: 'Name',
    former: 'former member', not_opened: 'could not be opened', files: 'Files',
    file_missing: 'not in this archive', done: 'done', not_done: 'not done',
    frequency: 'how often', no_logs: 'No practice logged.', empty: 'Nothing.',
    therapist: 'therapist', guardian: 'guardian', caregiver: 'caregiver',
    title: 'title', note: 'note', 'homework-log': 'practice', document: 'document',
    system: 'notice',
  },
  fi: {
    page_title: 'Vihon vienti', booklet: 'Vihko', exported_at: 'Viety',
    exported_by: 'Vienyt', fingerprint: 'sormenjälki', members: 'Jäsenet',
    entries: 'Merkinnät', homework: 'Kotitehtävät', logs: 'Harjoitusloki',
    access_log: 'Käyttöloki', verification: 'Arkiston tarkistaminen',
    verify_text: 'Arkistossa on jokainen merkintä kirjoittajansa allekirjoittamana, ja viejä on allekirjoittanut kokonaisuuden. Tarkista se komennolla: secure-msg client verify-export TIEDOSTO',
    when: 'Milloin', who: 'Kuka', what: 'Mitä', role: 'Rooli', name: 'Nimi',
    former: 'entinen jäsen', not_opened: 'ei voitu avata', files: 'Tiedostot',
    file_missing: 'ei tässä arkistossa', done: 'tehty', not_done: 'ei tehty',
    frequency: 'kuinka usein', no_logs: 'Ei kirjattuja harjoituksia.',
    empty: 'Ei mitään.', therapist: 'terapeutti', guardian: 'huoltaja',
    caregiver: 'hoitaja', title: 'otsikko', note: 'viesti',
    'homework-log': 'harjoitus', document: 'asiakirja', system: 'ilmoitus',
  },
  sv: {
    page_title: 'Export av häftet', booklet: 'Häfte', exported_at: 'Exporterad',
    exported_by: 'Exporterad av', fingerprint: 'fingeravtryck', members: 'Medlemmar',
    entries: 'Anteckningar', homework: 'Hemuppgifter', logs: 'Övningslogg',
    access_log: 'Åtkomstlogg', verification: 'Kontroll av arkivet',
    verify_text: 'Arkivet innehåller varje anteckning så som dess författare signerade den, och exportören har signerat helheten. Kontrollera den med: secure-msg client verify-export FIL',
    when: 'När', who: 'Vem', what: 'Vad', role: 'Roll', name: 'Namn',
    former: 'tidigare medlem', not_opened: 'kunde inte öppnas', files: 'Filer',
    file_missing: 'inte i detta arkiv', done: 'gjord', not_done: 'inte gjord',
    frequency: 'hur ofta', no_logs: 'Ingen övning loggad.', empty: 'Inget.',
    therapist: 'terapeut', guardian: 'vårdnadshavare', caregiver: 'skötare',
    title: 'rubrik', note: 'meddelande', 'homework-log': 'övning',
    document: 'dokument', system: 'meddelande',
  },
};

const CSP = "default-src 'none'; style-src 'unsafe-inline'";
const STYLE = 'body{font:11pt/1.45 system-ui,sans-serif;max-width:48em;margin:2em auto;color:#111}'
  + 'h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #999}'
  + 'h3{font-size:1em;margin:0}table{border-collapse:collapse;width:100%}'
  + 'td,th{border:1px solid #bbb;padding:.2em .4em;text-align:left;vertical-align:top}'
  + '.entry{border-top:1px solid #ddd;padding:.5em 0;break-inside:avoid}'
  + '.text{white-space:pre-wrap}.muted{color:#555}code{word-break:break-all}'
  + '@media print{body{margin:0;max-width:none}a{color:inherit}}';

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' };

/** Escaped as Python's html.escape(quote=True) does. @param {unknown} value */
export function esc(value) {
  return (value === null || value === undefined ? '' : String(value)).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** @param {Record<string, any>} doc booklet.json @returns {string} */
export function renderExportHtml(doc) {
  const tx = TEXTS[doc.language] ?? TEXTS.en;
  const names = new Map(doc.members.map((m) => [m.account_id, memberName(m, tx)]));
  const who = (id) => names.get(id ?? '') ?? esc(id);
  const ex = doc.exporter;
  const parts = [
    '<!DOCTYPE html>', `<html lang="${esc(doc.language || 'en')}">`,
    '<head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="referrer" content="no-referrer">',
    `<title>${esc(tx.page_title)}</title><style>${STYLE}</style></head><body>`,
    `<h1>${esc(doc.title || tx.booklet)}</h1>`,
    `<p>${esc(tx.booklet)}: <code>${esc(doc.booklet_id)}</code><br>`
      + `${esc(tx.exported_at)}: ${esc(doc.exported_at)}<br>`
      + `${esc(tx.exported_by)}: ${who(ex.account_id)}, ${esc(tx.fingerprint)} `
      + `<code>${esc(ex.fingerprint)}</code></p>`,
    `<h2>${esc(tx.members)}</h2>`,
    table([tx.name, tx.role, tx.fingerprint],
      doc.members.map((m) => [names.get(m.account_id), esc(tx[m.role] ?? m.role), `<code>${esc(m.fingerprint)}</code>`])),
    `<h2>${esc(tx.entries)}</h2>`,
  ];
  const byId = new Map(doc.entries.map((e) => [e.entry_id, e]));
  const entries = doc.entries.map((e) => entry(e, tx, who, byId));
  parts.push(...(entries.length ? entries : [`<p>${esc(tx.empty)}</p>`]));
  parts.push(`<h2>${esc(tx.homework)}</h2>`);
  const hws = doc.homework.map((hw) => homework(hw, tx, who));
  parts.push(...(hws.length ? hws : [`<p>${esc(tx.empty)}</p>`]));
  parts.push(`<h2>${esc(tx.access_log)}</h2>`,
    table([tx.when, tx.who, tx.what], doc.access_log.map((i) => [esc(i.at), esc(i.who), esc(i.what)])),
    `<h2>${esc(tx.verification)}</h2><p>${esc(tx.verify_text)}</p>`,
    '</body></html>', '');
  return parts.join('\n');
}

function memberName(m, tx) {
  const name = esc(m.name || (tx[m.role] ?? m.role));
  return name + (m.removed ? ` (${esc(tx.former)})` : '');
}

/** `head` is plain text; each cell of `rows` is HTML escaped by the caller. */
function table(head, rows) {
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table>`;
}

function entry(e, tx, who, byId) {
  const kind = e.kind || '';
  const seq = Math.trunc(Number(e.seq));
  const head = `<h3 id="e${seq}">#${seq} · ${esc(e.created_at)} · ${who(e.author_id)} · ${esc(tx[kind] ?? kind)}</h3>`;
  const p = e.payload;
  if (p === null || p === undefined) {
    return `<div class="entry">${head}<p class="muted">${esc(tx.not_opened)} (${esc(e.error)})</p></div>`;
  }
  const body = [];
  if (kind === 'title') {
    body.push(`<p><strong>${esc(p.title)}</strong></p>`);
  } else if (kind === 'note' || kind === 'system') {
    body.push(`<p class="text">${esc(p.text)}</p>`);
  } else if (kind === 'homework') {
    body.push(`<p><strong>${esc(p.task)}</strong> (${esc(tx.frequency)}: ${esc(p.frequency)})</p>`);
    if (p.text) body.push(`<p class="text">${esc(p.text)}</p>`);
  } else if (kind === 'homework-log') {
    const task = byId.get(p.homework)?.payload ?? {};
    const state = p.done ? tx.done : tx.not_done;
    body.push(`<p>${esc(task.task || p.homework)}: ${esc(state)}, ${esc(p.date)}</p><p class="text">${esc(p.how)}</p>`);
  } else if (kind === 'document') {
    if (p.text) body.push(`<p class="text">${esc(p.text)}</p>`);
    if (Object.hasOwn(p, 'attachments')) body.push(files(e, p.attachments, tx));
    else body.push(`<p>${esc(p.name)} (${esc(p.media_type)})</p>`);
  }
  return `<div class="entry">${head}${body.join('')}</div>`;
}

/** A path as Python's urllib.parse.quote(path) writes it: "/" and A–Z a–z 0–9 _ . - ~ kept. @param {string} path */
export function quote(path) {
  return path.split('/').map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');
}

function files(e, attachments, tx) {
  const paths = new Map((e.files ?? []).map((f) => [f.attachment, f.path]));
  const items = attachments.map((a, i) => {
    const label = `${esc(a.name)} (${esc(a.media_type)}, ${esc(a.size)} B)`;
    const path = paths.get(i);
    return path ? `<li><a href="${esc(quote(path))}">${label}</a></li>`
      : `<li>${label} <span class="muted">${esc(tx.file_missing)}</span></li>`;
  });
  return `<p>${esc(tx.files)}:</p><ul>${items.join('')}</ul>`;
}

function homework(hw, tx, who) {
  const logs = hw.logs.map((log) => `<li>${esc(log.date)} · ${who(log.author_id)} · `
    + `${esc(log.done ? tx.done : tx.not_done)}: <span class="text">${esc(log.how)}</span></li>`).join('');
  return `<div class="entry"><h3>${esc(hw.task)} <span class="muted">`
    + `(#${Math.trunc(Number(hw.seq))}, ${esc(tx.frequency)}: ${esc(hw.frequency)})</span></h3>`
    + `<p>${esc(tx.logs)}:</p>`
    + (logs ? `<ul>${logs}</ul>` : `<p class="muted">${esc(tx.no_logs)}</p>`)
    + '</div>';
}
