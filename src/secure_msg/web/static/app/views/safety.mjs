/** The safety number with one member: 60 digits in twelve groups of five, and "mark as verified". */
import { fromHex, groupDigits, safetyNumber, toHex } from '../../crypto/index.mjs';
import { describeError } from '../api.mjs';
import { h, replace } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { members, nameOf } from '../data.mjs';
import { setPin, state } from '../session.mjs';

/** @param {HTMLElement} main @param {string} bookletId @param {string} accountId */
export async function safetyView(main, bookletId, accountId) {
  replace(main, h('p', null, t('loading')));
  let member;
  try {
    member = (await members(bookletId, { all: true })).find((m) => m.id === accountId);
  } catch (e) {
    replace(main, h('p', { class: 'error', role: 'alert' }, describeError(e)));
    return;
  }
  if (!member) {
    replace(main, h('p', { class: 'error', role: 'alert' }, t('err_not_found')));
    return;
  }
  const name = nameOf(member, t);
  const number = await safetyNumber(
    { accountId: fromHex(state.account.id), identityKey: state.keys.identityPublic },
    { accountId: fromHex(member.id), identityKey: member.identityKey },
  );
  const groups = groupDigits(number).split(' ');
  const status = h('p', { class: 'ok', role: 'status' });
  const verify = h('button', { type: 'button', class: 'primary', onclick: () => {
    setPin(member.id, toHex(member.identityKey), true);
    status.textContent = t('is_verified', { name });
    verify.hidden = true;
  } }, t('mark_verified'));
  const settled = member.verified && !member.changed;
  if (settled) status.textContent = t('is_verified', { name });
  replace(main,
    h('p', null, h('a', { href: `#/b/${bookletId}`, class: 'back' }, `← ${t('back')}`)),
    h('h1', { tabindex: '-1' }, t('safety_title', { name })),
    member.changed ? h('div', { class: 'warning', role: 'alert' },
      h('h2', null, t('key_changed_title')), h('p', null, t('key_changed', { name }))) : null,
    h('p', null, t('safety_intro', { name })),
    h('h2', { id: 'digits-h', class: 'visually-hidden' }, t('safety_digits')),
    h('ol', { class: 'digits', 'aria-labelledby': 'digits-h', 'data-number': number }, groups.map((g) => h('li', null, g))),
    settled ? null : verify,
    status);
  main.querySelector('h1').focus();
}
