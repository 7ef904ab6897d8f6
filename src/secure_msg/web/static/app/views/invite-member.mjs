/**
 * The therapist invites a guardian or caregiver: role, name, phone and/or e-mail, and whether
 * the server sends the link by text message or e-mail (the channel policy applies there: an
 * address is needed, and a channel that is off says so). Each link made here stays listed with
 * a copy button, for giving it in person; the booklet's invitations still waiting to be used
 * (GET …/invitations) are listed below it, so the list outlives the page. A link cannot be shown
 * again later: the server keeps only its hash.
 *
 * One form per booklet is kept for the page's lifetime, so a re-render of the booklet (a live
 * update) moves the same element back with its typed text and its links.
 */
import { api } from '../api.mjs';
import { trustedLink } from '../invite-link.mjs';
import { announce, checkbox, field, h, replace } from '../dom.mjs';
import { formatTime, lang, t } from '../i18n.mjs';
import { state } from '../session.mjs';
import { busy, errorBox } from './common.mjs';
import { linkItem } from './link-share.mjs';

/** @type {Map<string, HTMLElement>} */
const kept = new Map();
let keptFor = '';

/** @param {string} bookletId @returns {HTMLElement} */
export function inviteMemberForm(bookletId) {
  // Links are one-time secrets: never shown to another account signed in on this page later.
  const account = state.account?.id ?? '';
  if (account !== keptFor) {
    kept.clear();
    keptFor = account;
  }
  let card = kept.get(bookletId);
  if (!card) {
    card = build(bookletId);
    kept.set(bookletId, card);
  } else {
    card.dispatchEvent(new Event('refresh'));
  }
  return card;
}

/** @param {string} bookletId */
function build(bookletId) {
  const error = errorBox();
  const made = h('ul', { class: 'invite-links', 'aria-label': t('invite_made') });
  const pendingList = h('ul', { class: 'invite-pending-list' });
  const pendingBox = h('section', { class: 'invite-pending', 'aria-labelledby': `pending-h-${bookletId}`, hidden: true },
    h('h4', { id: `pending-h-${bookletId}` }, t('invite_pending')), pendingList);
  // A caregiver's invitation states until when and what she may read (docs/protocol.md §5.1):
  // the guardians approve exactly those terms.
  const terms = h('fieldset', { class: 'invite-terms', hidden: true },
    h('legend', null, t('invite_caregiver_terms')),
    field(t('invite_until'), { name: 'until', type: 'date' }, { hint: t('invite_until_hint') }),
    field(t('invite_scope'), { name: 'scope' }, { tag: 'select', options: [['new', t('consent_scope_new')], ['history', t('consent_scope_history')]] }));
  const form = h('form', { class: 'card', 'data-form': 'invite' },
    h('h3', null, t('invite')),
    field(t('invite_role'), { name: 'role' }, { tag: 'select', options: [['guardian', t('role_guardian')], ['caregiver', t('role_caregiver')]] }),
    field(t('invite_name'), { name: 'name', maxlength: 100, autocomplete: 'off' }),
    field(t('invite_phone'), { name: 'phone', type: 'tel', maxlength: 32, autocomplete: 'off', inputmode: 'tel' }, { hint: t('invite_phone_hint') }),
    field(t('invite_email'), { name: 'email', type: 'email', maxlength: 254, autocomplete: 'off' }),
    terms,
    h('fieldset', { class: 'invite-send' },
      h('legend', null, t('invite_send')),
      checkbox(t('invite_send_sms'), { name: 'send_sms' }),
      checkbox(t('invite_send_email'), { name: 'send_email' }),
      field(t('invite_language'), { name: 'language' }, { tag: 'select', options: [['fi', 'Suomi'], ['sv', 'Svenska'], ['en', 'English']] })),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('make_link')));
  form.elements.namedItem('language').value = lang();
  const showTerms = () => { terms.hidden = form.elements.namedItem('role').value !== 'caregiver'; };
  form.elements.namedItem('role').addEventListener('change', showTerms);

  async function loadPending() {
    try {
      const { invitations } = await api('GET', `/api/booklets/${bookletId}/invitations`);
      replace(pendingList, invitations.map((p) => h('li', { class: 'invite-pending-item' },
        `${p.name ?? t('invite_unnamed')} (${t(`role_${p.role}`)}) · ${t('invite_expires', { when: formatTime(p.expires_at) })}`,
        p.has_phone ? ` · ${t('invite_has_phone')}` : null,
        p.has_email ? ` · ${t('invite_has_email')}` : null)));
      pendingBox.hidden = invitations.length === 0;
    } catch { /* the list is a help; the form works without it */ }
  }

  form.addEventListener('refresh', loadPending);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const get = (n) => form.elements.namedItem(n).value.trim();
    const checked = (n) => form.elements.namedItem(n).checked;
    const send = [];
    if (checked('send_sms')) send.push('sms');
    if (checked('send_email')) send.push('email');
    if (checked('send_sms') && !get('phone')) return refuse(t('invite_need_phone'), 'phone');
    if (checked('send_email') && !get('email')) return refuse(t('invite_need_email'), 'email');
    // The only field the server checks beyond those with their own error types: a caregiver's end.
    const untilRefused = get('role') === 'caregiver' ? { 'validation-failed': 'invite_until_bad' } : {};
    await busy(form, error, async () => {
      const body = { role: get('role'), send, language: get('language') };
      for (const name of ['name', 'phone', 'email']) if (get(name)) body[name] = get(name);
      if (body.role === 'caregiver') Object.assign(body, { until: get('until') || 'period-end', scope: get('scope') });
      const issued = await api('POST', `/api/booklets/${bookletId}/invitations`, body);
      // The link shown here carries trust and history in its fragment (§6.7); a link the server
      // sends by SMS/e-mail never does, nor a caregiver's: the guardians' consent (§5.1)
      // decides what a caregiver reads, so no history is sealed to their link.
      if (body.role !== 'caregiver') {
        issued.link = await trustedLink(bookletId, issued, body.role);
        // Scanned from her screen at the meeting, the code's fingerprint is verified in person
        // (§6.7 via=qr); the copied link may travel any way, so it is trusted on first use.
        issued.qrLink = issued.link.replace(/&via=link$/, '&via=qr');
      }
      const who = body.name ?? t('invite_unnamed');
      const role = form.elements.namedItem('role').value;
      form.reset();
      form.elements.namedItem('role').value = role;
      showTerms();
      form.elements.namedItem('language').value = body.language;
      made.prepend(linkItem(issued, who, issued.queued.length
        ? h('p', { class: 'muted' }, t('invite_sent_by', { channels: issued.queued.map((c) => t(`channel_${c}`)).join(', ') }))
        : null));
      const note = issued.queued.length
        ? t('invite_queued', { name: who, channels: issued.queued.map((c) => t(`channel_${c}`)).join(', ') })
        : t('invite_made_ok', { name: who });
      announce(note);
      made.querySelector('input')?.focus();
      await loadPending();
    }, { ...untilRefused, 'invalid-phone-number': 'invite_bad_phone', 'invalid-email-address': 'invite_bad_email', 'channel-disabled': 'invite_channel_off' });
  });

  /** @param {string} text @param {string} name the field to fix */
  function refuse(text, name) {
    error.show(text);
    announce(text);
    form.elements.namedItem(name).focus();
  }

  loadPending();
  // Outside the form, so its reset after each invitation leaves the links alone.
  return h('div', { class: 'invite-member' }, form, made, pendingBox);
}


