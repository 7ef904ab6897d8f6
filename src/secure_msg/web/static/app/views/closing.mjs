/**
 * Closing a booklet at the end of therapy (its therapist), and the read-only banner a closed
 * booklet shows its members: it can be read and saved until the date it is deleted from the
 * service (GET/POST /api/booklets/{id}/lifecycle, /close).
 */
import { api, describeError } from '../api.mjs';
import { announce, h, replace } from '../dom.mjs';
import { lang, t } from '../i18n.mjs';
import { confirmInline } from './confirm.mjs';

const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };

/** @param {string} iso */
const day = (iso) => new Date(iso).toLocaleDateString(LOCALES[lang()], { day: 'numeric', month: 'numeric', year: 'numeric' });

/** @param {string} bookletId */
export function closing(bookletId) {
  /** @type {{status: string, purge_after?: string | null}} */
  let lifecycle = { status: 'open' };
  const banner = h('section', { class: 'notice closed-banner', role: 'status', hidden: true, 'aria-labelledby': 'closed-h' });
  return {
    banner,
    closed: () => lifecycle.status !== 'open',
    async refresh() {
      lifecycle = await api('GET', `/api/booklets/${bookletId}/lifecycle`);
      banner.hidden = lifecycle.status === 'open';
      if (!banner.hidden && lifecycle.purge_after) {
        replace(banner, h('h2', { id: 'closed-h' }, t('booklet_closed_title')),
          h('p', null, t('booklet_closed_banner', { date: day(lifecycle.purge_after) })));
      }
    },
    /**
     * The therapist's "Close booklet" action with its confirmation beside it.
     * @param {() => Promise<void>} onClosed @param {(text: string) => void} showError
     */
    action(onClosed, showError) {
      const button = h('button', { type: 'button', class: 'danger', 'data-action': 'close-booklet' }, t('close_booklet'));
      button.addEventListener('click', async () => {
        button.disabled = true;
        const ok = await confirmInline(button, {
          title: t('close_booklet_title'), question: t('close_booklet_question'),
          yes: t('close_booklet_yes'), action: 'close-booklet',
        });
        button.disabled = false;
        if (!ok) return button.focus();
        try {
          await api('POST', `/api/booklets/${bookletId}/close`);
          announce(t('booklet_closed_title'));
          await onClosed();
        } catch (e) {
          showError(describeError(e));
        }
      });
      return h('section', { class: 'card close-booklet' }, button);
    },
  };
}
