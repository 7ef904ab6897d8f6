/**
 * One one-time link made on a page (a family member's or a therapist's invitation): who it is
 * for, the link (selected on focus), a copy button, and a QR code to show for scanning at an
 * in-person meeting. The QR encoder (../qr.mjs) loads when first asked for.
 */
import { h, uid } from '../dom.mjs';
import { t } from '../i18n.mjs';

/**
 * @param {{id: number, link: string, qrLink?: string}} issued `qrLink`: what the QR code says,
 *   when it differs from the link to copy @param {string} who the invitee's name
 * @param {Node | null} [note] a line under the link (sent by, valid until)
 */
export function linkItem(issued, who, note = null) {
  const id = uid('link');
  const link = h('input', { id, readonly: true, value: issued.link, class: 'link', onfocus: (ev) => ev.currentTarget.select() });
  const copied = h('span', { class: 'muted', role: 'status' });
  const qrId = uid('qr');
  const qrBox = h('div', { id: qrId, class: 'qr-box', hidden: true });
  const qrButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': qrId,
    'aria-label': t('qr_show_for', { name: who }),
    onclick: async () => {
      const open = qrButton.getAttribute('aria-expanded') !== 'true';
      if (open && !qrBox.firstChild) {
        const { qrSvg } = await import('../qr.mjs');
        qrBox.append(qrSvg(issued.qrLink ?? issued.link, t('qr_label', { name: who })), h('p', { class: 'hint' }, t('qr_hint')));
      }
      qrBox.hidden = !open;
      qrButton.setAttribute('aria-expanded', String(open));
    } }, t('qr_show'));
  return h('li', { class: 'invite-result', 'data-invitation': issued.id },
    h('label', { for: id }, t('invite_link'), `: ${who}`),
    link,
    note,
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', 'aria-label': t('copy_for', { name: who }), onclick: async () => {
        link.select();
        try {
          await navigator.clipboard.writeText(issued.link);
          copied.textContent = t('copied');
        } catch {
          copied.textContent = t('copy_by_hand');
        }
      } }, t('copy')),
      qrButton,
      copied),
    qrBox);
}
