/** Pieces shared by the screens: error boxes and busy state. */
import { describeError } from '../api.mjs';
import { announce, h } from '../dom.mjs';
import { t } from '../i18n.mjs';

/** A hidden alert box with show(text) / clear(). */
export function errorBox() {
  const box = /** @type {HTMLElement & {show: (text: string) => void, clear: () => void}} */ (
    h('p', { class: 'error', role: 'alert', hidden: true }));
  box.show = (text) => { box.textContent = text; box.hidden = false; };
  box.clear = () => { box.textContent = ''; box.hidden = true; };
  return box;
}

/**
 * Run `work` with the form's buttons disabled and a "working" note; show any error in plain words.
 * @param {HTMLElement} form @param {ReturnType<typeof errorBox>} error @param {() => Promise<void>} work
 * @param {Record<string, string>} [overrides] error type or code → i18n key
 */
export async function busy(form, error, work, overrides) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach((b) => { b.disabled = true; });
  error.clear();
  form.setAttribute('aria-busy', 'true');
  const note = h('p', { class: 'muted working', role: 'status' }, t('working'));
  form.append(note);
  try {
    await work();
  } catch (e) {
    error.show(describeError(e, overrides));
    announce(error.textContent ?? '');
  } finally {
    note.remove();
    form.removeAttribute('aria-busy');
    buttons.forEach((b) => { b.disabled = false; });
  }
}
