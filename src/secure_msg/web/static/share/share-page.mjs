/**
 * The page a recipient outside the booklet opens (docs/protocol.md §4.8): no account, no
 * cookies. The link's fragment holds the share id and the link secret (the browser never sends
 * a fragment to the server); the person types the code they got by SMS. The page derives the
 * keys, opens the share with the access token, fetches the file's ciphertext, checks and
 * decrypts it here (§4.7), and offers it as a download under a sanitised name.
 */
import { fromHex, toBase64url, fromBase64url } from '../crypto/encoding.mjs';
import { ProtocolError } from '../crypto/errors.mjs';
import { mediaTypePolicy, normaliseMediaType, sanitiseFilename } from '../crypto/file-meta.mjs';
import { decryptFile } from '../crypto/file-stream.mjs';
import { checkCode, deriveShareKeys, openSealedShare, parseFragment } from '../crypto/share.mjs';

const TEXT = {
  fi: {
    intro: 'Sinulle on jaettu asiakirja. Kirjoita tekstiviestillä saamasi koodi.',
    code: 'Koodi (8 numeroa)', open: 'Avaa', opening: 'Avataan…',
    badLink: 'Linkki on vajaa. Avaa koko linkki, jonka sait.',
    badCode: 'Koodissa on 8 numeroa.',
    wrong: (n) => `Koodi ei ole oikein. Yrityksiä jäljellä: ${n}.`,
    'share-locked': 'Koodi annettiin väärin liian monta kertaa. Asiakirjaa ei voi enää avata tästä linkistä. Pyydä lähettäjältä uusi.',
    'share-expired': 'Linkin voimassaolo on päättynyt. Pyydä lähettäjältä uusi.',
    'share-revoked': 'Lähettäjä on perunut jaon. Asiakirjaa ei voi avata.',
    'share-used': 'Asiakirja on jo avattu tästä linkistä. Pyydä tarvittaessa lähettäjältä uusi.',
    'not-found': 'Jakoa ei löydy. Tarkista linkki.',
    failed: 'Asiakirjaa ei voitu avata: se ei läpäissyt tarkistuksia.',
    network: 'Yhteys palvelimeen ei onnistunut. Yritä uudelleen.',
    ready: 'Asiakirja on valmis.', save: (name, kb) => `Tallenna ${name} (${kb} kt)`,
  },
  sv: {
    intro: 'Ett dokument har delats med dig. Skriv koden du fått per sms.',
    code: 'Kod (8 siffror)', open: 'Öppna', opening: 'Öppnar…',
    badLink: 'Länken är ofullständig. Öppna hela länken du fått.',
    badCode: 'Koden har 8 siffror.',
    wrong: (n) => `Koden är fel. Försök kvar: ${n}.`,
    'share-locked': 'Koden angavs fel för många gånger. Dokumentet kan inte längre öppnas med den här länken. Be avsändaren om en ny.',
    'share-expired': 'Länken har gått ut. Be avsändaren om en ny.',
    'share-revoked': 'Avsändaren har dragit tillbaka delningen. Dokumentet kan inte öppnas.',
    'share-used': 'Dokumentet har redan öppnats med den här länken. Be avsändaren om en ny vid behov.',
    'not-found': 'Delningen finns inte. Kontrollera länken.',
    failed: 'Dokumentet kunde inte öppnas: det klarade inte kontrollerna.',
    network: 'Anslutningen till servern misslyckades. Försök igen.',
    ready: 'Dokumentet är klart.', save: (name, kb) => `Spara ${name} (${kb} kB)`,
  },
  en: {
    intro: 'A document has been shared with you. Enter the code you received by text message.',
    code: 'Code (8 digits)', open: 'Open', opening: 'Opening…',
    badLink: 'The link is incomplete. Open the whole link you were given.',
    badCode: 'The code has 8 digits.',
    wrong: (n) => `The code is not right. Attempts left: ${n}.`,
    'share-locked': 'The code was wrong too many times. The document can no longer be opened with this link. Ask the sender for a new one.',
    'share-expired': 'This link has expired. Ask the sender for a new one.',
    'share-revoked': 'The sender has withdrawn this share. The document cannot be opened.',
    'share-used': 'The document has already been opened with this link. Ask the sender for a new one if needed.',
    'not-found': 'There is no such share. Check the link.',
    failed: 'The document could not be opened: it failed its checks.',
    network: 'Could not reach the server. Try again.',
    ready: 'The document is ready.', save: (name, kb) => `Save ${name} (${kb} kB)`,
  },
};

const lang = (() => {
  const wanted = (navigator.languages || [navigator.language || 'fi']).map((l) => l.slice(0, 2));
  return wanted.find((l) => l in TEXT) || 'fi';
})();
const T = TEXT[lang];
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Say `text` in the status line; `final` hides the form (nothing more to try). */
function say(text, final = false) {
  $('status').textContent = text;
  if (final) $('code-form').hidden = true;
}

class Refused extends Error {
  /** @param {number} status @param {any} problem */
  constructor(status, problem) {
    super(problem?.type || String(status));
    this.status = status;
    this.problem = problem || {};
  }
}

/** POST JSON; the Response, or Refused with the problem+json. */
async function post(path, body) {
  const resp = await fetch(path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
  });
  if (!resp.ok) {
    let problem = {};
    try { problem = await resp.json(); } catch { /* not JSON */ }
    throw new Refused(resp.status, problem);
  }
  return resp;
}

function explain(e) {
  if (e instanceof Refused) {
    const type = e.problem.type;
    if (type === 'share-code-wrong') return [T.wrong(e.problem.attempts_left ?? 0), false];
    if (type in T) return [T[type], true];
    if (e.status === 404) return [T['not-found'], true];
    return [T.network, false];
  }
  if (e instanceof ProtocolError) {
    if (e.code === 'share-code-malformed') return [T.badCode, false];
    return [T.failed, true];
  }
  return [T.network, false];
}

async function openShare(link, code) {
  const keys = await deriveShareKeys(link.shareId, link.linkSecret, checkCode(code));
  const body = { token: toBase64url(keys.token) };
  const id = Array.from(link.shareId, (b) => b.toString(16).padStart(2, '0')).join('');
  const opened = await (await post(`/api/shares/${id}/open`, body)).json();
  const shared = await openSealedShare(keys, link.shareId, fromBase64url(opened.sealed));
  const a = shared.attachment;
  const blob = new Uint8Array(await (await post(`/api/shares/${id}/blob`, body)).arrayBuffer());
  const plain = await decryptFile(blob, {
    fileKey: fromHex(a.key), bookletId: shared.bookletId, fileId: fromHex(a.file_id),
    size: a.size, sha256: fromHex(a.sha256),
  });
  // Never rendered here: offered as a download, of an allowed type or as plain bytes.
  const type = mediaTypePolicy(a.media_type) ? normaliseMediaType(a.media_type) : 'application/octet-stream';
  return { name: sanitiseFilename(a.name), size: a.size, file: new Blob([plain], { type }) };
}

function main() {
  $('intro').textContent = T.intro;
  $('code-label').textContent = T.code;
  $('open').textContent = T.open;
  document.documentElement.lang = lang;
  let link;
  try {
    link = parseFragment(location.hash);
  } catch {
    say(T.badLink, true);
    return;
  }
  const form = /** @type {HTMLFormElement} */ ($('code-form'));
  form.hidden = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = /** @type {HTMLButtonElement} */ ($('open'));
    button.disabled = true;
    say(T.opening);
    try {
      const got = await openShare(link, /** @type {HTMLInputElement} */ ($('code')).value);
      const a = /** @type {HTMLAnchorElement} */ ($('download'));
      a.href = URL.createObjectURL(got.file);
      a.download = got.name;
      a.textContent = T.save(got.name, Math.max(1, Math.round(got.size / 1024)));
      $('result').hidden = false;
      say(T.ready, true);
    } catch (e) {
      const [text, final] = explain(e);
      say(text, final);
    } finally {
      button.disabled = false;
    }
  });
}

// Another link opened in this tab: start over with its share.
window.addEventListener('hashchange', () => location.reload());
main();
