/** Pieces shared by the screens: error boxes, busy state, password strength. */
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

/**
 * A rough strength score for the hint (0 empty, 1 too short, 2 weak, 3 fair, 4 strong): length and
 * variety, with repeated or very common patterns marked down. A hint only; the real defence is
 * PBKDF2 and the recovery key.
 * @param {string} pw
 */
export function passwordStrength(pw) {
  if (!pw) return 0;
  if (pw.length < 10) return 1;
  const lower = pw.toLowerCase();
  if (/^(.)\1+$/.test(pw) || /^(1234|qwert|salasana|password|lösenord|abcd)/.test(lower)) return 2;
  const classes = [/[a-zåäö]/, /[A-ZÅÄÖ]/, /\d/, /[^\w\såäöÅÄÖ]/].filter((re) => re.test(pw)).length;
  const words = pw.trim().split(/\s+/).length;
  const points = pw.length + 3 * classes + 4 * (words - 1);
  if (points >= 26) return 4;
  if (points >= 17) return 3;
  return 2;
}
