/**
 * One calm status line in the inbox about this account's sealed client state (docs/protocol.md
 * §6.5): a server that served an older copy, a copy that did not open, people this account's
 * devices pinned with different keys, and a copy too large for the server to keep. Nothing is blocked here: a key conflict blocks writing to
 * that person in their booklet, as a changed key does.
 */
import { h } from '../dom.mjs';
import { t } from '../i18n.mjs';
import { getPin } from '../session.mjs';
import { onStateReport, stateReport } from '../state-sync.mjs';

/** @param {import('../state-sync.mjs').Report} report @returns {string} */
export function describeStateReport(report) {
  const parts = [];
  if (report.rolledBack) parts.push(t('state_rolled_back'));
  if (report.unreadable) parts.push(t('state_unreadable', { code: report.unreadable }));
  if (report.pinConflicts.length) {
    const names = report.pinConflicts.map((id) => {
      const pin = getPin(id);
      const role = Object.values(pin?.roles ?? {})[0];
      return pin?.name ?? (role ? t(`role_${role}`) : '?');
    });
    parts.push(t('state_pin_conflict', { names: names.join(', ') }));
  }
  if (report.tooLarge) parts.push(t('state_too_large'));
  if (report.notSaved) parts.push(t('state_not_saved'));
  return parts.join(' ');
}

/** A live region that follows the report while it is on screen. @returns {HTMLElement} */
export function stateNotice() {
  const line = h('p', { class: 'state-notice', role: 'status' }, describeStateReport(stateReport()));
  const stop = onStateReport((report) => {
    if (!line.isConnected) return void stop(); // the inbox was left
    line.textContent = describeStateReport(report);
  });
  return line;
}
