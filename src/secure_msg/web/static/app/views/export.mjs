/**
 * "Export" in a booklet: the whole booklet decrypted on this device into one archive for the
 * patient record (docs/export.md), the same archive as `secure-msg client export`: manifest.json
 * signed with my identity key (manifest.sig), booklet.json, a printable booklet.html, the signed
 * envelopes and the attached files, in a stored zip (../zip.mjs) offered as a download. The export
 * is recorded in the booklet's access log before the log is read into the archive.
 * Its texts live here, in fi/sv/en, to keep this panel in one module.
 */
import { api, auth, describeError } from '../api.mjs';
import { announce, h } from '../dom.mjs';
import { lang, t } from '../i18n.mjs';
import { Opener, members, nameOf } from '../data.mjs';
import { checkHistory } from '../history.mjs';
import { getCheckpoint, state } from '../session.mjs';
import { renderExportHtml } from '../export-html.mjs';
import { writeZip } from '../zip.mjs';
import { describeAccess } from './access-log.mjs';
import { errorBox } from './common.mjs';
import {
  KIND_NAMES, ProtocolError, entryHash, fingerprint, fromBase64url, fromHex, parseEntry, sanitiseFilename, toHex,
} from '../../crypto/index.mjs';
import { equal, utf8 } from '../../crypto/encoding.mjs';
import { LABEL } from '../../crypto/labels.mjs';
import { sign } from '../../crypto/primitives.mjs';

/** @type {Record<string, Record<string, string>>} */
export const TEXTS = {
  en: {
    title: 'Export',
    intro: 'Save the whole booklet on this device as one file for the patient record: a printable page (print it to PDF from the browser), the same as data, the attached files, and the signed entries with which anyone can check it. The file is not encrypted: keep it safe. The export is shown in the access log.',
    button: 'Export',
    done: 'The booklet was saved as an export file.',
  },
  fi: {
    title: 'Vie tiedostoon',
    intro: 'Tallenna koko vihko tälle laitteelle yhdeksi tiedostoksi potilaskertomusta varten: tulostettava sivu (tulosta se selaimesta PDF:ksi), samat tiedot datana, liitetyt tiedostot ja allekirjoitetut merkinnät, joilla kuka tahansa voi tarkistaa sen. Tiedostoa ei ole salattu: säilytä se huolella. Vienti näkyy käyttölokissa.',
    button: 'Vie tiedostoon',
    done: 'Vihko tallennettiin vientitiedostoksi.',
  },
  sv: {
    title: 'Exportera',
    intro: 'Spara hela häftet på den här enheten som en fil för patientjournalen: en utskrivbar sida (skriv ut den som PDF från webbläsaren), samma uppgifter som data, de bifogade filerna och de signerade anteckningarna som vem som helst kan kontrollera den med. Filen är inte krypterad: förvara den väl. Exporten syns i åtkomstloggen.',
    button: 'Exportera',
    done: 'Häftet sparades som en exportfil.',
  },
};

const tx = (/** @type {string} */ key) => (TEXTS[lang()] ?? TEXTS.en)[key];
const FORMAT = 'secure-msg-export';
const PAGE = 200;

/** As the server and the Python client write times: 2026-11-18T08:53:20.001+00:00. @param {number} ms */
const iso = (ms) => new Date(ms).toISOString().replace(/Z$/, '+00:00');
const pad6 = (/** @type {number} */ n) => String(n).padStart(6, '0');
/** Plain SHA-256 (not the protocol's labelled hash): `sha256sum` checks an unpacked file. @param {Uint8Array} data */
const sha256Hex = async (data) => toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', data)));
/** JSON as the Python client writes it (indent 1, a final newline). */
const jsonBytes = (value) => utf8.encode(`${JSON.stringify(value, null, 1)}\n`);

/**
 * The booklet's members with their key statements as served, each the one the pinned-key check
 * accepted: the verifier checks signatures with these.
 * @param {string} bookletId
 */
async function checkedMembers(bookletId) {
  const all = await members(bookletId, { all: true });
  const changed = all.find((m) => m.changed);
  if (changed) throw new ProtocolError('identity-key-changed', changed.id);
  const raw = (await api('GET', `/api/booklets/${bookletId}/members?all=1`)).members;
  /** @type {Map<string, Uint8Array>} */ const statements = new Map();
  for (const r of raw) {
    const m = all.find((x) => x.id === r.account_id);
    const st = fromBase64url(r.key_statement);
    if (!m || !equal(st.subarray(20, 52), m.pinnedKey)) throw new ProtocolError('identity-key-changed', r.account_id);
    statements.set(m.id, st);
  }
  return { all, statements };
}

/** Every listed entry, page by page, and the booklet's last sequence. @param {string} bookletId */
async function listing(bookletId) {
  const raws = [];
  let lastSeq = 0;
  for (let after = 0; ;) {
    const page = await api('GET', `/api/booklets/${bookletId}/entries?since=${after}&limit=${PAGE}`);
    raws.push(...page.entries);
    lastSeq = Math.max(lastSeq, page.last_seq);
    if (!page.entries.length) break;
    after = page.entries[page.entries.length - 1].seq;
    if (after >= page.last_seq) break;
  }
  return { raws, lastSeq };
}

/**
 * An attachment's file, downloaded and opened with every check of §4.7; or why it is left out:
 * "unavailable" (the server did not give the blob) or "protocol/<code>" (it failed a check).
 * @param {string} bookletId @param {Record<string, any>} a the attachment
 * @returns {Promise<Uint8Array | string>}
 */
async function fetchFile(bookletId, a) {
  let resp;
  try {
    resp = await fetch(`/api/booklets/${bookletId}/blobs/${encodeURIComponent(a.blob_id)}`, {
      headers: auth.token ? { Authorization: `Bearer ${auth.token}` } : {}, cache: 'no-store',
    });
  } catch {
    return 'unavailable';
  }
  if (!resp.ok) return 'unavailable';
  const blob = new Uint8Array(await resp.arrayBuffer());
  // Loaded on use, like the write box's file code: opening a booklet fetches none of it.
  const { MIN_CHUNK_SIZE, blobLength, decryptFile } = await import('../../crypto/file-stream.mjs');
  // A server cannot make this device hold more than the file's largest possible blob.
  if (blob.length > blobLength(a.size, MIN_CHUNK_SIZE)) return 'protocol/file-extended';
  try {
    return await decryptFile(blob, {
      fileKey: fromHex(a.key), bookletId: fromHex(bookletId), fileId: fromHex(a.file_id), size: a.size, sha256: fromHex(a.sha256),
    });
  } catch (e) {
    if (e instanceof ProtocolError) return `protocol/${e.code}`;
    throw e;
  }
}

/** Each homework with the logs that name it. @param {any[]} entries */
function homeworkOf(entries) {
  /** @type {Map<string, any>} */ const out = new Map();
  for (const e of entries) {
    if (e.kind === 'homework' && e.payload) {
      out.set(e.entry_id, { entry_id: e.entry_id, seq: e.seq, task: e.payload.task, frequency: e.payload.frequency, text: e.payload.text ?? null, logs: [] });
    }
  }
  for (const e of entries) {
    const p = e.payload;
    if (e.kind === 'homework-log' && p && out.has(p.homework)) {
      out.get(p.homework).logs.push({ seq: e.seq, entry_id: e.entry_id, author_id: e.author_id, done: p.done, how: p.how, date: p.date, created_at: e.created_at });
    }
  }
  return [...out.values()];
}

/**
 * Read the whole booklet, record the export, and build the archive.
 * @param {string} bookletId
 * @param {{language?: string, now?: number}} [opts]
 * @returns {Promise<{archive: Uint8Array, entries: number}>}
 */
export async function buildExport(bookletId, { language = lang(), now = Date.now() } = {}) {
  const me = state.account?.id;
  const { all, statements } = await checkedMembers(bookletId);
  const mine = all.find((m) => m.id === me);
  if (!mine || !state.keys) throw new ProtocolError('not-a-recipient', 'not a member of this booklet');
  const opener = new Opener(bookletId, all);
  const { raws, lastSeq } = await listing(bookletId);

  const entries = [];
  const listed = [];
  const sealedFiles = [];
  /** @type {Array<[string, Uint8Array]>} */ const files = [];
  const items = [];
  for (const raw of raws) {
    const sealed = fromBase64url(raw.envelope);
    const hash = await entryHash(sealed);
    const item = { seq: raw.seq, entry_id: raw.entry_id, author_id: raw.author_id, kind: null, created_at: raw.created_at, payload: null, error: null, files: [] };
    let key = null;
    try {
      const { header } = parseEntry(sealed);
      items.push({ seq: header.sequence, prevHash: toHex(header.prevHash), entryHash: toHex(hash) });
      const opened = await opener.open(raw.author_id, sealed);
      if (header.sequence !== raw.seq || toHex(header.entryId) !== raw.entry_id || toHex(header.authorId) !== raw.author_id) {
        throw new ProtocolError('malformed', "the server's listing disagrees with the signed header");
      }
      Object.assign(item, { kind: KIND_NAMES[header.kind], created_at: iso(header.createdAt), payload: opened.payload });
      key = toHex(opened.contentKey);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      item.error = `protocol/${e.code}`;
    }
    const attachments = item.payload && Array.isArray(item.payload.attachments) ? item.payload.attachments : [];
    for (const [i, a] of attachments.entries()) {
      const got = await fetchFile(bookletId, a);
      if (typeof got === 'string') {
        item.files.push({ attachment: i, path: null, missing: got });
        continue;
      }
      const path = `files/${pad6(raw.seq)}-${String(i + 1).padStart(2, '0')}-${sanitiseFilename(a.name)}`;
      files.push([path, got]);
      item.files.push({ attachment: i, path, missing: null });
    }
    entries.push(item);
    const path = `envelopes/${pad6(raw.seq)}.bin`;
    sealedFiles.push([path, sealed]);
    listed.push({ seq: raw.seq, path, entry_hash: toHex(hash), content_key: key });
  }
  const { problems } = checkHistory({ since: 0, lastSeq, joinedSeq: mine.joinedSeq, checkpoint: getCheckpoint(bookletId), items });

  // Recorded before the log is read, so that the archive shows its own export.
  await api('POST', `/api/booklets/${bookletId}/exports`, { kind: 'booklet', entries: entries.length });
  const log = [];
  for (let c = null, n = 0; n < 10_000; n++) {
    const page = await api('GET', `/api/booklets/${bookletId}/access-log?limit=200${c ? `&cursor=${c}` : ''}`);
    log.push(...page.items);
    c = page.next_cursor;
    if (c === null) break;
  }
  const nameFor = (/** @type {string} */ id) => {
    const m = all.find((x) => x.id === id);
    return m ? nameOf(m, t) : id;
  };

  const at = iso(now);
  const title = [...entries].reverse().find((e) => e.kind === 'title' && e.payload)?.payload.title ?? null;
  const fingerprints = new Map(await Promise.all(all.map(async (m) => [m.id, await fingerprint(m.pinnedKey)])));
  const doc = {
    format: FORMAT, version: 1, booklet_id: bookletId, title, exported_at: at,
    language: ['fi', 'sv', 'en'].includes(language) ? language : 'en',
    exporter: { account_id: mine.id, name: mine.name, role: mine.role, fingerprint: fingerprints.get(mine.id) },
    members: all.map((m) => ({
      account_id: m.id, role: m.pinnedRole || m.role, name: m.name, fingerprint: fingerprints.get(m.id),
      verified: m.verified, removed: m.removed, joined_seq: m.joinedSeq,
    })),
    entries,
    homework: homeworkOf(entries),
    access_log: log.map((i) => ({ ...i, ...describeAccess(i, nameFor) })),
    history_problems: problems,
  };
  const body = [['booklet.json', jsonBytes(doc)], ['booklet.html', utf8.encode(renderExportHtml(doc))], ...sealedFiles, ...files];
  const manifest = {
    format: FORMAT, version: 1, booklet_id: bookletId, exported_at: at,
    exporter: { account_id: mine.id, identity_key: toHex(state.keys.identityPublic), fingerprint: await fingerprint(state.keys.identityPublic) },
    joined_seq: mine.joinedSeq,
    members: all.map((m) => ({ account_id: m.id, role: m.pinnedRole || m.role, key_statement: toHex(statements.get(m.id)) })),
    envelopes: listed,
    files: await Promise.all(body.map(async ([path, data]) => ({ path, size: data.length, sha256: await sha256Hex(data) }))),
  };
  const manifestBytes = jsonBytes(manifest);
  const signature = await sign(state.keys.identity.privateKey, LABEL.EXPORT_MANIFEST, manifestBytes);
  return { archive: writeZip([['manifest.json', manifestBytes], ['manifest.sig', signature], ...body]), entries: entries.length };
}

/** The panel. @param {string} bookletId @param {() => void} [onDone] e.g. to refresh the access log */
export function exportPanel(bookletId, onDone = () => {}) {
  const error = errorBox();
  const button = h('button', { type: 'button', class: 'export-button' }, tx('button'));
  // A disclosure, as the access log is: the booklet's page stays as long as it was.
  const section = h('details', { class: 'card export' },
    h('summary', null, h('h2', { id: 'export-h', class: 'inline' }, tx('title'))),
    h('p', { class: 'muted' }, tx('intro')), error, h('p', { class: 'actions' }, button));
  button.addEventListener('click', async () => {
    error.clear();
    button.disabled = true;
    section.setAttribute('aria-busy', 'true');
    try {
      const { archive } = await buildExport(bookletId);
      const url = URL.createObjectURL(new Blob([archive], { type: 'application/zip' }));
      const a = h('a', { href: url, download: `booklet-export-${new Date().toISOString().slice(0, 10)}.zip`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      announce(tx('done'));
      onDone();
    } catch (e) {
      error.show(describeError(e));
    } finally {
      section.removeAttribute('aria-busy');
      button.disabled = false;
    }
  });
  return section;
}
