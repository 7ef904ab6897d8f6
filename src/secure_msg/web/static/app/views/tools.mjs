/** The members panel (verification state, safety numbers) and the therapist's tools. */
import { api, describeError } from '../api.mjs';
import { announce, field, h } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { grantHistory, nameOf, post } from '../data.mjs';
import { state } from '../session.mjs';
import { busy, errorBox } from './common.mjs';
import { askingBeside, unlessCancelled } from './confirm.mjs';
import { inviteMemberForm } from './invite-member.mjs';

/**
 * @param {string} bookletId @param {import('../data.mjs').Member[]} all
 * @param {() => Promise<import('../data.mjs').Entry[]>} entries every entry read, once the page has read them all
 * @param {{therapist: boolean, onChange: () => Promise<void>}} opts
 */
export function membersPanel(bookletId, all, entries, { therapist, onChange }) {
  const error = errorBox();
  const status = h('p', { class: 'muted', role: 'status' });
  const current = all.filter((m) => !m.removed);
  const row = (m) => {
    const self = m.id === state.account?.id;
    const name = nameOf(m, t);
    const actions = h('div', { class: 'row' });
    if (!self) {
      actions.append(h('a', { href: `#/b/${bookletId}/safety/${m.id}`, class: 'button secondary' }, t('compare'),
        h('span', { class: 'visually-hidden' }, `: ${name}`)));
    }
    if (therapist && !self) {
      if (m.joinedSeq > 0) {
        actions.append(h('button', { type: 'button', class: 'secondary', 'data-action': 'share',
          onclick: (ev) => act(ev.currentTarget, async () => {
            let n = 0;
            if (!await unlessCancelled(async () => { n = await grantHistory(bookletId, m, await entries(), askingBeside(actions, bookletId, 'share')); })) return;
            status.textContent = n ? t('shared_n', { n, name }) : t('nothing_to_share');
          }) }, t('share_history', { name })));
      }
      const remove = h('button', { type: 'button', class: 'danger', 'data-action': 'remove',
        onclick: () => {
          remove.hidden = true;
          const confirm = h('button', { type: 'button', class: 'danger', 'data-action': 'confirm-remove',
            onclick: (ev) => act(ev.currentTarget, async () => {
              await api('DELETE', `/api/booklets/${bookletId}/members/${m.id}`);
              announce(t('removed_ok', { name }));
              // Answered: the question goes, so the panel is free to show the members as they are now.
              confirm.remove();
              cancel.remove();
              await onChange();
              document.querySelector('[data-panel=members] summary')?.focus();
            }) }, t('confirm_remove', { name }));
          const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { confirm.remove(); cancel.remove(); remove.hidden = false; remove.focus(); } }, t('cancel'));
          actions.append(confirm, cancel);
          confirm.focus();
        } }, t('remove', { name }));
      actions.append(remove);
    }
    return h('li', { class: 'member', 'data-member': m.id },
      // A relabelled member's name says both roles, the one first seen (which counts) and the listed one.
      h('p', null, h('span', { class: m.relabelled ? 'member-name relabelled' : 'member-name' }, name), ' · ',
        m.relabelled ? null : [t(`role_${m.role}`), ' · '],
        h('span', { class: m.verified ? 'ok' : 'muted' }, m.verified ? `✓ ${t('verified')}` : t('not_verified'))),
      actions);
  };
  async function act(button, work) {
    button.disabled = true;
    error.clear();
    try {
      await work();
    } catch (e) {
      error.show(describeError(e));
    } finally {
      button.disabled = false;
    }
  }
  return h('details', { class: 'panel members', open: therapist || undefined, 'data-panel': 'members' },
    h('summary', null, `${t('members')} (${current.length})`),
    h('ul', { class: 'member-list' }, current.map(row)), status, error);
}

/** Post homework; invite a guardian or caregiver (views/invite-member.mjs). */
export function therapistTools(bookletId, { onPosted }) {
  const hwError = errorBox();
  const homework = h('form', { class: 'card', 'data-form': 'homework' },
    h('h3', null, t('post_homework')),
    field(t('task'), { name: 'task', required: true, maxlength: 500 }),
    field(t('how_often'), { name: 'frequency', required: true, maxlength: 100 }),
    field(t('details'), { name: 'text', maxlength: 5000, rows: 2 }, { tag: 'textarea' }),
    hwError,
    h('button', { type: 'submit', class: 'primary' }, t('send')));
  homework.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const get = (n) => homework.elements.namedItem(n).value.trim();
    if (!get('task') || !get('frequency')) return;
    await busy(homework, hwError, async () => {
      const fields = { task: get('task'), frequency: get('frequency') };
      if (get('text')) fields.text = get('text');
      if (!await unlessCancelled(() => post(bookletId, 'homework', fields, askingBeside(homework, bookletId, 'send', 'homework')))) return;
      homework.reset();
      await onPosted();
      announce(t('sent'));
    });
  });

  const invite = inviteMemberForm(bookletId); // role, name, phone/e-mail, SMS/e-mail, links kept
  return h('details', { class: 'panel tools', open: true }, h('summary', null, t('tools')), homework, invite);
}
