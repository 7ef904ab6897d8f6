/**
 * Caregivers and the guardians' consent in a booklet (docs/protocol.md §5.1): a guardian sees
 * "Päiväkoti wants to join as a daycare or school worker until 31.3.2026 — approve / decline",
 * approves or declines on this device, and can withdraw later; every member sees a line when a
 * caregiver's access ends. Kept to its own module: the booklet view only places it.
 */
import { describeError } from '../api.mjs';
import { announce, h } from '../dom.mjs';
import { lang, t } from '../i18n.mjs';
import { lastDay, signConsent } from '../consent.mjs';
import { state } from '../session.mjs';
import { busy, errorBox } from './common.mjs';

const day = (until) => lastDay(until).toLocaleDateString({ fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' }[lang()]);

/**
 * @param {string} bookletId @param {any[]} rows GET …/caregivers
 * @param {import('../data.mjs').Member[]} all the booklet's members, former ones too
 * @param {{onChange: () => Promise<void>}} opts
 * @returns {HTMLElement | null}
 */
export function consentPanel(bookletId, rows, all, { onChange }) {
  if (!rows.length) return null;
  const myId = state.account?.id;
  const guardian = all.some((m) => m.id === myId && !m.removed && m.role === 'guardian');
  const error = errorBox();
  const section = h('section', { class: 'card consent', 'aria-labelledby': 'consent-h' },
    h('h2', { id: 'consent-h' }, t('consent_title')), error);

  const act = (action, row, name) => busy(section, error, async () => {
    await signConsent(bookletId, row, action);
    announce(t(`consent_done_${action}`, { name }));
    await onChange();
  }, {});
  const button = (action, row, name, cls) => h('button', {
    type: 'button', class: cls, 'data-action': `consent-${action}`, onclick: () => act(action, row, name),
  }, t(`consent_${action}`), h('span', { class: 'visually-hidden' }, `: ${name}`));

  const seen = new Set(); // newest terms first: older ones of the same caregiver are history
  for (const row of rows) {
    const name = row.name ?? t('role_caregiver');
    const slots = { name, date: day(row.until), scope: t(`consent_scope_${row.scope}`) };
    const signed = row.consents.some((c) => c.guardian_id === myId && c.action === 'approve');
    const item = h('div', { class: 'consent-row', 'data-caregiver': row.account_id, 'data-status': row.status });
    if (row.status === 'pending_consent' && !seen.has(row.account_id)) {
      item.append(h('p', null, t('consent_request', slots)));
      if (guardian && !signed) item.append(h('div', { class: 'row' }, button('approve', row, name, 'primary'), button('withdraw', row, name, 'secondary')));
      else item.append(h('p', { class: 'muted' }, t(signed ? 'consent_waiting_others' : 'consent_waiting')));
    } else if (row.status === 'active' && !seen.has(row.account_id)) {
      item.append(h('p', null, t('consent_active', slots)));
      if (guardian) item.append(h('div', { class: 'row' }, button('withdraw', row, name, 'danger')));
    } else {
      // A system line, the server's word: when a membership ended and why.
      item.append(h('p', { class: 'quiet system-line' }, t(row.status === 'expired' ? 'consent_expired' : 'consent_withdrawn', slots)));
    }
    seen.add(row.account_id);
    section.append(item);
  }
  return section;
}

/** What a caregiver who is not (yet, or any more) a member is told instead of the booklet. @param {unknown} e */
export function caregiverNotice(e) {
  const type = /** @type {any} */ (e)?.type;
  if (type === 'consent-pending') return t('consent_pending_notice');
  if (type === 'membership-expired') return t('membership_expired_notice');
  return describeError(e);
}
