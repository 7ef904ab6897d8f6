/**
 * The admin's page, where an admin lands after signing in: invite a therapist (or another
 * admin) and copy the one-time link, the practice's staff and the staff invitations still
 * waiting, text messages to check across the practice, and the audit log's hash chain checked
 * now. The same as `secure-msg admin invite` and `admin audit verify` on the server machine.
 *
 * Staff links are not sent from here: the admin gives them in person or by her own channel
 * (the CLI does not send them either). Booklet titles are end-to-end encrypted and the admin is
 * no member, so a problem names its booklet by the start of its id.
 */
import { api, describeError } from '../api.mjs';
import { announce, field, h, replace } from '../dom.mjs';
import { formatTime, t } from '../i18n.mjs';
import { busy, errorBox } from './common.mjs';
import { linkItem } from './link-share.mjs';
import { describeProblem } from './notice-problems.mjs';

/** @param {HTMLElement} main @returns {() => void} cleanup */
export function adminView(main) {
  const staff = h('section', { class: 'card', 'aria-labelledby': 'staff-h' }, h('h2', { id: 'staff-h' }, t('admin_staff')));
  const problems = h('section', { class: 'card', 'aria-labelledby': 'admin-problems-h' }, h('h2', { id: 'admin-problems-h' }, t('admin_problems')));
  const audit = h('section', { class: 'card', 'aria-labelledby': 'audit-h' }, h('h2', { id: 'audit-h' }, t('admin_audit')));
  replace(main,
    h('h1', { id: 'admin-h' }, t('admin_title')),
    h('p', { class: 'muted' }, t('admin_intro')),
    staffInviteForm(() => loadStaff(staff)),
    staff, problems, audit);
  Promise.all([loadStaff(staff), loadProblems(problems), loadAudit(audit)])
    .then(() => { main.dataset.ready = 'true'; });
  return () => {};
}

function staffInviteForm(reload) {
  const error = errorBox();
  const made = h('ul', { class: 'admin-links', 'aria-label': t('invite_made') });
  const form = h('form', { class: 'card', 'data-form': 'staff-invite' },
    h('h2', null, t('admin_invite')),
    field(t('invite_role'), { name: 'role' }, { tag: 'select', options: [['therapist', t('staff_role_therapist')], ['admin', t('staff_role_admin')]] }),
    field(t('admin_invite_name'), { name: 'name', required: true, maxlength: 100, autocomplete: 'off' }),
    field(t('invite_phone'), { name: 'phone', type: 'tel', maxlength: 32, autocomplete: 'off', inputmode: 'tel' }, { hint: t('admin_phone_hint') }),
    field(t('invite_email'), { name: 'email', type: 'email', maxlength: 254, autocomplete: 'off' }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('make_link')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const get = (n) => form.elements.namedItem(n).value.trim();
    if (!get('name')) return;
    await busy(form, error, async () => {
      const body = { role: get('role'), name: get('name') };
      for (const name of ['phone', 'email']) if (get(name)) body[name] = get(name);
      const issued = await api('POST', '/api/admin/invitations', body);
      form.reset();
      made.prepend(linkItem(issued, body.name, h('p', { class: 'muted' }, t('admin_link_hint', { when: formatTime(issued.expires_at) }))));
      announce(t('invite_made_ok', { name: body.name }));
      made.querySelector('input')?.focus();
      await reload();
    }, { 'invalid-phone-number': 'invite_bad_phone', 'invalid-email-address': 'invite_bad_email' });
  });
  return h('div', { class: 'admin-invite' }, form, made);
}


/** @param {HTMLElement} section */
async function loadStaff(section) {
  const error = errorBox();
  try {
    const data = await api('GET', '/api/admin/staff');
    replace(section, h('h2', { id: 'staff-h' }, t('admin_staff')),
      h('ul', { class: 'staff-list', 'aria-labelledby': 'staff-h' }, data.staff.map((s) => h('li', { 'data-account': s.account_id },
        h('span', { class: 'member-name' }, s.name ?? t('invite_unnamed')),
        ` · ${t(`staff_role_${s.role}`)} · ${t('admin_since', { when: formatTime(s.created_at) })}`,
        s.disabled ? ` · ${t('admin_disabled')}` : null))),
      h('h3', { id: 'staff-pending-h' }, t('invite_pending')),
      data.pending.length
        ? h('ul', { class: 'invite-pending-list', 'aria-labelledby': 'staff-pending-h' }, data.pending.map((p) => h('li', { class: 'invite-pending-item' },
          `${p.name ?? t('invite_unnamed')} (${t(`staff_role_${p.role}`)}) · ${t('invite_expires', { when: formatTime(p.expires_at) })}`)))
        : h('p', { class: 'muted' }, t('admin_none_pending')));
  } catch (e) {
    error.show(describeError(e));
    replace(section, h('h2', { id: 'staff-h' }, t('admin_staff')), error);
  }
}

/** @param {HTMLElement} section */
async function loadProblems(section) {
  const heading = h('h2', { id: 'admin-problems-h' }, t('admin_problems'));
  try {
    const { notices } = await api('GET', '/api/admin/notices/problems');
    replace(section, heading, notices.length
      ? h('ul', { class: 'notice-problems-list', 'aria-labelledby': 'admin-problems-h' }, notices.map((n) => h('li', { class: `notice-problem notice-${n.status}` },
        describeProblem(n, t),
        n.booklet_id ? ` · ${t('admin_booklet', { id: n.booklet_id.slice(0, 8) })}` : null)))
      : h('p', { class: 'muted' }, t('admin_no_problems')));
  } catch (e) {
    const error = errorBox();
    error.show(describeError(e));
    replace(section, heading, error);
  }
}

/** @param {HTMLElement} section */
async function loadAudit(section) {
  const heading = h('h2', { id: 'audit-h' }, t('admin_audit'));
  const again = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    again.disabled = true;
    await loadAudit(section);
    const status = section.querySelector('.audit-status');
    status?.setAttribute('tabindex', '-1');
    /** @type {HTMLElement | null} */ (status)?.focus();
    announce(status?.textContent ?? '');
  } }, t('admin_audit_again'));
  try {
    const r = await api('GET', '/api/admin/audit');
    const text = r.ok
      ? t('admin_audit_ok', { n: r.checked })
      : t('admin_audit_broken', { seq: r.first_broken_seq ?? '?', n: r.checked, reason: r.reason });
    replace(section, heading,
      h('p', { class: r.ok ? 'audit-status ok' : 'audit-status broken', role: r.ok ? null : 'alert' }, r.ok ? '✓ ' : '✗ ', text),
      h('p', { class: 'muted' }, t('admin_audit_hint')), again);
  } catch (e) {
    const error = errorBox();
    error.show(describeError(e));
    replace(section, heading, error, again);
  }
}
