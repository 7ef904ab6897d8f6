/**
 * The files of a document entry (docs/protocol.md §4.5 second form): each with its sanitised name
 * (as text), size and a type word. JPEG, PNG and WebP preview inline once downloaded, decrypted
 * and checked, from a blob: URL of the checked type (revoked once shown); every other type is only
 * saved, under the sanitised name, as application/octet-stream. Nothing is ever rendered from
 * another media type (no HTML, no SVG). A file that fails a check says which, and nothing is saved.
 */
import { mediaTypePolicy, normaliseMediaType, sanitiseFilename } from '../../crypto/file-meta.mjs';
import { ProtocolError } from '../../crypto/errors.mjs';
import { describeError } from '../api.mjs';
import { h } from '../dom.mjs';
import { formatSize, ft } from '../files-text.mjs';

/** The files' styles, kept out of app.css (the login screen's first load): added once, with this module. */
export function filesStyles() {
  if (document.querySelector('link[data-files-css]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: '/static/files.css', 'data-files-css': '' }));
}

/** How long a download's blob URL lives: long enough for any browser to start saving it. */
const DOWNLOAD_URL_MS = 30_000;

const OFFICE = /^application\/(msword|vnd\.)/;

/** A short word for the type, never the author's string itself. @param {string} mediaType */
function typeWord(mediaType) {
  const mt = normaliseMediaType(mediaType);
  const policy = mediaTypePolicy(mt);
  if (!policy) return ft('file_type_other');
  if (mt.startsWith('image/')) return `${ft('file_type_image')} (${mt.slice(6).toUpperCase()})`;
  if (mt === 'application/pdf') return ft('file_type_pdf');
  if (mt === 'text/plain') return ft('file_type_text');
  return OFFICE.test(mt) ? ft('file_type_office') : ft('file_type_other');
}

/** The file's checked plaintext, downloaded now (files-io.mjs loads on first use). @param {string} bookletId @param {any} a */
async function plaintext(bookletId, a) {
  const { fetchFile } = await import('../files-io.mjs');
  return fetchFile(bookletId, a);
}

/** @param {unknown} e @param {string} name */
function failure(e, name) {
  return e instanceof ProtocolError ? ft('file_failed', { name, code: e.code }) : `${name}: ${describeError(e)}`;
}

/** Load previews as they come near the view; a booklet of photos does not fetch them all at once. */
const nearView = typeof IntersectionObserver === 'function'
  ? new IntersectionObserver((seen) => {
    for (const s of seen) {
      if (!s.isIntersecting) continue;
      nearView.unobserve(s.target);
      /** @type {any} */ (s.target).load?.();
    }
  }, { rootMargin: '600px 0px' })
  : null;

/** @param {string} bookletId @param {any} a @param {string} name @param {HTMLElement} problem */
function preview(bookletId, a, name, problem) {
  const type = normaliseMediaType(a.media_type); // one of INLINE_IMAGE_TYPES: the policy said so
  const box = /** @type {HTMLElement & {load?: () => void}} */ (h('div', { class: 'file-preview' }, h('p', { class: 'muted' }, ft('loading_image'))));
  let started = false;
  box.load = async () => {
    if (started) return;
    started = true;
    try {
      const parts = await plaintext(bookletId, a);
      const href = URL.createObjectURL(new Blob(parts, { type }));
      const img = h('img', { alt: ft('image_alt', { name }), src: href, decoding: 'async' });
      // Shown once decoded: the URL is not needed after that, so it does not linger.
      const done = () => URL.revokeObjectURL(href);
      img.addEventListener('load', done, { once: true });
      img.addEventListener('error', done, { once: true });
      box.replaceChildren(img);
    } catch (e) {
      box.replaceChildren();
      problem.textContent = failure(e, name);
      problem.hidden = false;
    }
  };
  if (nearView) nearView.observe(box);
  else box.load();
  return box;
}

/**
 * The list of an entry's files.
 * @param {string} bookletId @param {any[]} attachments checked by decodePayload (checkAttachments)
 */
export function attachmentList(bookletId, attachments) {
  filesStyles();
  return h('ul', { class: 'files' }, attachments.map((a) => {
    const name = sanitiseFilename(a.name);
    const problem = h('p', { class: 'error', role: 'alert', hidden: true });
    const save = async () => {
      problem.hidden = true;
      button.disabled = true;
      try {
        const parts = await plaintext(bookletId, a);
        const href = URL.createObjectURL(new Blob(parts, { type: 'application/octet-stream' }));
        h('a', { href, download: name }).click();
        setTimeout(() => URL.revokeObjectURL(href), DOWNLOAD_URL_MS);
      } catch (e) {
        problem.textContent = failure(e, name);
        problem.hidden = false;
      } finally {
        button.disabled = false;
      }
    };
    const button = h('button', { type: 'button', class: 'secondary download', onclick: save }, name);
    return h('li', { class: 'file' },
      mediaTypePolicy(a.media_type) === 'inline' ? preview(bookletId, a, name, problem) : null,
      h('p', { class: 'file-line' }, button, ' ', h('span', { class: 'muted' }, `${typeWord(a.media_type)} · ${formatSize(a.size)}`)),
      problem);
  }));
}
