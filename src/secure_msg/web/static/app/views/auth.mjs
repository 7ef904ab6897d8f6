/** Login: the one screen of the first load (enrollment and recovery load on use, views/enroll.mjs). */
import { checkbox, field, h, replace } from '../dom.mjs';
import { t } from '../i18n.mjs';
import * as session from '../session.mjs';
import { busy, errorBox } from './common.mjs';

/** @param {HTMLElement} main @param {() => void} done */
export function loginView(main, done, message) {
  const error = errorBox();
  const form = h('form', { class: 'card', novalidate: true },
    field(t('login_name'), { name: 'login', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }),
    field(t('password'), { type: 'password', name: 'password', autocomplete: 'current-password', required: true }),
    checkbox(t('shared_computer'), { name: 'shared' }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('login')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    await busy(form, error, async () => {
      await session.login(form.elements.namedItem('login').value.trim(), form.elements.namedItem('password').value,
        { memoryOnly: form.elements.namedItem('shared').checked });
      done();
    });
  });
  replace(main, h('h1', null, t('login_title')), message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    form, h('p', null, h('a', { href: '#/recover' }, t('forgot'))));
}
