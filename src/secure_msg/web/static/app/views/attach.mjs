/**
 * Files in the write box: chosen with the file picker, the phone's camera or dropped on the box;
 * listed with name and size, each removable; checked against the media-type allow-list and the
 * size limit before anything is sent; then encrypted and uploaded one by one (files-io.mjs, loaded
 * on first send) with a progress bar. What was chosen stays until the entry is stored.
 */
import { mediaTypeForName, mediaTypePolicy, normaliseMediaType, sanitiseFilename } from '../../crypto/file-meta.mjs';
import { describeError } from '../api.mjs';
import { announce, h, uid } from '../dom.mjs';
import { formatSize, ft } from '../files-text.mjs';
import { errorBox } from './common.mjs';
import { filesStyles } from './files.mjs';

/** One file's limit: the server's [blobs] max_blob_bytes default holds 25 MiB of file (§10.6). */
export const MAX_FILE_BYTES = 25 * 1024 * 1024;
/** The server's [blobs] max_per_entry default. */
export const MAX_FILES = 20;

/** The allowed media type of a chosen file (its name's extension first, as the CLI), or null. @param {File} file */
export function mediaTypeOf(file) {
  const byName = mediaTypeForName(file.name);
  if (byName) return mediaTypePolicy(byName) ? byName : null;
  const byType = normaliseMediaType(file.type ?? '');
  return mediaTypePolicy(byType) ? byType : null;
}

/**
 * Why `file` cannot be attached, in words, or null when it can.
 * @param {File} file @param {number} [maxBytes]
 */
export function refusal(file, maxBytes = MAX_FILE_BYTES) {
  const name = sanitiseFilename(file.name);
  if (!mediaTypeOf(file)) return ft('refused_type', { name });
  if (file.size > maxBytes) return ft('refused_size', { name, size: formatSize(file.size), max: formatSize(maxBytes) });
  return null;
}

/**
 * The attach controls of one write box.
 * @param {string} bookletId @param {HTMLFormElement} compose @param {() => void} onChange
 */
export function attachBox(bookletId, compose, onChange) {
  filesStyles();
  /** @type {{file: File, mediaType: string, uploaded: import('../files-io.mjs').Attachment | null}[]} */
  let chosen = [];
  const listId = uid('files');
  const refused = errorBox();
  const list = h('ul', { class: 'chosen-files', id: listId, 'aria-label': ft('chosen_files'), hidden: true });
  const status = h('p', { class: 'muted', role: 'status' });
  const bar = h('progress', { class: 'upload-progress', 'aria-label': ft('upload_progress'), hidden: true, max: 1, value: 0 });

  /** @param {Iterable<File>} files */
  function add(files) {
    const reasons = [];
    for (const file of files) {
      const why = refusal(file);
      if (why) reasons.push(why);
      else if (chosen.length >= MAX_FILES) reasons.push(ft('refused_count', { n: MAX_FILES }));
      else chosen.push({ file, mediaType: /** @type {string} */ (mediaTypeOf(file)), uploaded: null });
    }
    if (reasons.length) {
      refused.show([...new Set(reasons)].join(' '));
      announce(refused.textContent ?? '');
    } else {
      refused.clear();
    }
    show();
  }

  function show() {
    list.replaceChildren(...chosen.map((c, i) => {
      const name = sanitiseFilename(c.file.name);
      return h('li', null,
        h('span', { class: 'file-name' }, name), ' ',
        h('span', { class: 'muted' }, formatSize(c.file.size)), ' ',
        h('button', { type: 'button', class: 'secondary small', onclick: () => {
          chosen.splice(i, 1);
          show();
          (list.querySelector('button') ?? picker).focus();
        } }, ft('remove'), h('span', { class: 'visually-hidden' }, ` ${name}`)));
    }));
    list.hidden = chosen.length === 0;
    onChange();
  }

  const accept = 'application/pdf,image/jpeg,image/png,image/webp,image/heic,image/heif,text/plain,.pdf,.jpg,.jpeg,.png,.webp,.heic,.heif,.txt,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.odp';
  const chooser = (/** @type {Record<string, any>} */ attrs) => {
    const input = /** @type {HTMLInputElement} */ (h('input', { type: 'file', hidden: true, tabindex: '-1', ...attrs }));
    input.addEventListener('change', () => {
      add(input.files ?? []);
      input.value = ''; // the same file may be chosen again after removing it
    });
    return input;
  };
  const files = chooser({ multiple: true, accept, 'aria-label': ft('attach') });
  const camera = chooser({ accept: 'image/*', capture: 'environment', 'aria-label': ft('take_photo') });
  const picker = h('button', { type: 'button', class: 'secondary attach', 'aria-controls': listId, onclick: () => files.click() }, ft('attach'));
  const photo = h('button', { type: 'button', class: 'secondary take-photo', 'aria-controls': listId, onclick: () => camera.click() }, ft('take_photo'));

  // Drag and drop onto the whole write box.
  const carriesFiles = (/** @type {DragEvent} */ ev) => [...(ev.dataTransfer?.types ?? [])].includes('Files');
  compose.addEventListener('dragover', (ev) => {
    if (!carriesFiles(ev)) return;
    ev.preventDefault();
    compose.classList.add('dropping');
  });
  compose.addEventListener('dragleave', (ev) => {
    if (!compose.contains(/** @type {Node | null} */ (ev.relatedTarget))) compose.classList.remove('dropping');
  });
  compose.addEventListener('drop', (ev) => {
    compose.classList.remove('dropping');
    if (!ev.dataTransfer?.files.length) return;
    ev.preventDefault();
    add(ev.dataTransfer.files);
  });

  /**
   * Encrypt and upload every chosen file not yet uploaded; the attachments, or null when one
   * failed (said in the box; the files stay chosen, those uploaded are not sent again).
   * @returns {Promise<import('../files-io.mjs').Attachment[] | null>}
   */
  async function upload() {
    const total = chosen.reduce((n, c) => n + c.file.size, 0) || 1;
    let before = 0;
    bar.max = total;
    bar.value = 0;
    bar.hidden = false;
    try {
      const { uploadFile } = await import('../files-io.mjs');
      for (const [i, c] of chosen.entries()) {
        const name = sanitiseFilename(c.file.name);
        if (!c.uploaded) {
          status.textContent = ft('uploading', { i: i + 1, n: chosen.length, name });
          try {
            c.uploaded = await uploadFile(bookletId, c.file, c.mediaType, (done) => { bar.value = before + done; });
          } catch (e) {
            refused.show(ft('upload_failed', { name, why: why(e) }));
            announce(refused.textContent ?? '');
            return null;
          }
        }
        before += c.file.size;
        bar.value = before;
      }
      return chosen.map((c) => /** @type {import('../files-io.mjs').Attachment} */ (c.uploaded));
    } finally {
      bar.hidden = true;
      status.textContent = '';
    }
  }

  /** @param {unknown} e */
  function why(e) {
    const type = /** @type {any} */ (e)?.type;
    if (type === 'blob-too-large') return ft('server_too_large');
    if (type === 'booklet-quota-exceeded') return ft('server_quota');
    return describeError(e);
  }

  return {
    /** The controls: the list and messages above the buttons, the buttons beside Send. */
    panel: h('div', { class: 'attachments-chosen' }, list, refused, bar, status),
    buttons: [picker, photo, files, camera],
    count: () => chosen.length,
    upload,
    /** The server no longer has the uploads (a pending blob expired): upload again next time. */
    forgetUploads: () => chosen.forEach((c) => { c.uploaded = null; }),
    clear: () => {
      chosen = [];
      refused.clear();
      show();
    },
    add,
  };
}
