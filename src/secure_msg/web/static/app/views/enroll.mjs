/** Enrollment from an invitation link, the one-time recovery key, and recovery: loaded when first shown. */
import { api, describeError } from '../api.mjs';
import { announce, checkbox, field, h, replace } from '../dom.mjs';
import { lang, t } from '../i18n.mjs';
import { joinIfInvited } from '../roster.mjs';
import * as session from '../session.mjs';
import { busy, errorBox } from './common.mjs';

const MIN_PASSWORD = 10;

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

/** A new-password field with a live strength hint. @param {string} label */
function newPasswordField(label) {
  const wrap = field(label, { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD },
    { hint: t('password_new_hint') });
  const input = /** @type {HTMLInputElement} */ (wrap.querySelector('input'));
  const meter = h('meter', { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, 'aria-hidden': 'true' });
  const text = h('p', { class: 'strength', id: `${input.id}-strength`, 'aria-live': 'polite' }, t('strength_empty'));
  input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby')} ${text.id}`);
  input.addEventListener('input', () => {
    const score = passwordStrength(input.value);
    meter.setAttribute('value', String(score));
    text.textContent = t(['strength_empty', 'strength_short', 'strength_weak', 'strength_fair', 'strength_strong'][score]);
    wrap.dataset.strength = String(score);
  });
  wrap.append(meter, text);
  return wrap;
}

/** Same password twice and long enough, else the error text. */
function checkNewPassword(form) {
  const pw = form.elements.namedItem('password').value;
  if (pw.length < MIN_PASSWORD) return t('err_short');
  if (pw !== form.elements.namedItem('password2').value) return t('err_mismatch');
  return null;
}

/** @param {HTMLElement} main @param {string} token @param {() => void} done */
export async function enrollView(main, token, done) {
  replace(main, h('p', null, t('loading')));
  let info;
  try {
    info = await api('GET', `/api/enroll/${encodeURIComponent(token)}`);
  } catch (e) {
    replace(main, h('h1', null, t('enroll_title')), h('p', { class: 'error', role: 'alert' }, e.status === 404 || e.status === 410 ? t('link_bad') : describeError(e)));
    return;
  }
  const error = errorBox();
  const form = h('form', { class: 'card', novalidate: true },
    field(t('login_name'), { name: 'login', autocomplete: 'username', required: true, maxlength: 64, autocapitalize: 'none', spellcheck: 'false' },
      { hint: t('login_name_hint') }),
    newPasswordField(t('password')),
    field(t('password_again'), { type: 'password', name: 'password2', autocomplete: 'new-password', required: true }),
    checkbox(t('shared_computer'), { name: 'shared' }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('create_account')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const problem = checkNewPassword(form);
    const loginName = form.elements.namedItem('login').value.trim();
    if (!loginName) return error.show(t('login_name'));
    if (problem) return error.show(problem);
    await busy(form, error, async () => {
      const text = await session.enroll(token, info.account_id, {
        login: loginName, password: form.elements.namedItem('password').value, language: lang(),
        memoryOnly: form.elements.namedItem('shared').checked,
      });
      // The child's name and the earlier entries, at once, when the link carried them (§6.7).
      // The recovery key is shown whatever happens here: it is shown only once.
      let joinError = null;
      try {
        await joinIfInvited(info.booklet_id);
      } catch (e) {
        joinError = e;
      }
      recoveryKeyView(main, text, done, loginName);
      if (joinError) main.prepend(h('p', { class: 'error', role: 'alert' }, describeError(joinError)));
    });
  });
  replace(main,
    h('h1', null, t('enroll_title')),
    h('p', null, t('enroll_intro')),
    h('p', { class: 'muted' }, t('enroll_invited_as', { role: t(`role_${info.role}`) })),
    form);
}

/** How long the saved file's blob URL lives: long enough for any browser to start saving it. */
const DOWNLOAD_URL_MS = 30_000;

/**
 * Shown once, right after enrollment; Continue only after "I have saved it". Besides printing:
 * copy to the clipboard, and save as a .txt file (a Blob URL made on click and revoked soon after:
 * no inline code, so the strict CSP holds), which is what a phone can do.
 * @param {HTMLElement} main @param {string} text the recovery key @param {() => void} done @param {string} [login]
 */
export function recoveryKeyView(main, text, done, login = '') {
  const go = h('button', { type: 'button', class: 'primary', disabled: true, onclick: done }, t('continue'));
  const saved = checkbox(t('recovery_saved'), { name: 'saved', onchange: (ev) => { go.disabled = !ev.target.checked; } });
  const status = h('p', { class: 'muted', role: 'status' });
  const key = h('p', { class: 'recovery-key', id: 'recovery-key' }, text);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = t('recovery_copied');
    } catch {
      // No clipboard (an insecure origin, a refused permission): select it for copying by hand.
      getSelection()?.selectAllChildren(key);
      status.textContent = t('recovery_copy_failed');
    }
  };
  const save = () => {
    const body = `${t('recovery_file_text', { login, key: text })}\r\n`;
    const href = URL.createObjectURL(new Blob([body], { type: 'text/plain;charset=utf-8' }));
    h('a', { href, download: t('recovery_file_name') }).click();
    setTimeout(() => URL.revokeObjectURL(href), DOWNLOAD_URL_MS);
    status.textContent = t('recovery_file_saved');
  };
  replace(main,
    h('h1', { tabindex: '-1' }, t('recovery_title')),
    h('p', null, t('recovery_intro')),
    key,
    h('div', { class: 'card' },
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', 'data-action': 'copy-key', onclick: copy }, t('recovery_copy')),
        h('button', { type: 'button', class: 'secondary', 'data-action': 'save-key', onclick: save }, t('recovery_save')),
        h('button', { type: 'button', class: 'secondary', onclick: () => window.print() }, t('print'))),
      status, saved, go));
  main.querySelector('h1').focus();
  announce(t('recovery_title'));
}

/** @param {HTMLElement} main @param {() => void} done */
export function recoverView(main, done) {
  const error = errorBox();
  const form = h('form', { class: 'card', novalidate: true },
    field(t('login_name'), { name: 'login', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }),
    field(t('recovery_key'), { name: 'recovery', autocomplete: 'off', required: true, autocapitalize: 'characters', spellcheck: 'false' },
      { hint: t('recovery_key_hint') }),
    newPasswordField(t('new_password')),
    field(t('password_again'), { type: 'password', name: 'password2', autocomplete: 'new-password', required: true }),
    checkbox(t('shared_computer'), { name: 'shared' }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('set_password')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const problem = checkNewPassword(form);
    if (problem) return error.show(problem);
    await busy(form, error, async () => {
      await session.recover(form.elements.namedItem('login').value.trim(), form.elements.namedItem('recovery').value,
        form.elements.namedItem('password').value, { memoryOnly: form.elements.namedItem('shared').checked });
      done();
    }, { 'recovery-key-malformed': 'err_recovery_key', 'recovery-key-checksum': 'err_recovery_key', 'invalid-credentials': 'err_recovery', 'bundle-decrypt-failed': 'err_recovery' });
  });
  replace(main, h('h1', null, t('recover_title')), h('p', null, t('recover_intro')), form,
    h('p', null, h('a', { href: '#/login' }, t('to_login'))));
}
