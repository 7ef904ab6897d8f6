/** JSON over HTTP to the secure-msg API; problem+json answers become ApiError. */
import { ProtocolError } from '../crypto/errors.mjs';
import { t } from './i18n.mjs';

export class ApiError extends Error {
  /** @param {number} status @param {string} type @param {string} title @param {Record<string, any>} [extra] */
  constructor(status, type, title, extra = {}) {
    super(`${type}: ${title}`);
    this.status = status;
    this.type = type;
    this.title = title;
    this.extra = extra;
  }
}

/** @type {{token: string | null, onUnauthorized: () => void}} */
export const auth = { token: null, onUnauthorized: () => {} };

/**
 * @param {string} method @param {string} path
 * @param {Record<string, any>} [body]
 * @param {{token?: string}} [opts] a session other than `auth.token` (logout ends a forgotten one)
 * @returns {Promise<any>}
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = opts.token ?? auth.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'network');
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new ApiError(resp.status, String(data.type ?? 'http-error'), String(data.title ?? resp.statusText), data);
    if (resp.status === 401 && auth.token && !path.startsWith('/api/log')) auth.onUnauthorized();
    throw err;
  }
  return data;
}

/** Plain-language text for any error a screen can show. @param {unknown} err @param {Record<string,string>} [overrides] type → i18n key */
export function describeError(err, overrides = {}) {
  // Refused by the therapist's signed roster (§6.6): say whom, and that the server added them.
  if (err instanceof ProtocolError && Array.isArray(/** @type {any} */ (err).members)) {
    const { members } = /** @type {any} */ (err);
    if (!members.length) return t('roster_failed', { code: err.code });
    return t('roster_refused', { code: err.code, names: members.map((m) => m.name ?? t(`role_${m.role}`)).join(', ') });
  }
  if (err instanceof ProtocolError) return overrides[err.code] ? t(overrides[err.code]) : t('err_protocol', { code: err.code });
  if (err?.name === 'ConsentRefused') return t(`err_${err.code.replaceAll('-', '_')}`);
  if (err instanceof ApiError) {
    if (overrides[err.type]) return t(overrides[err.type]);
    if (err.status === 0) return t('err_network');
    if (err.type === 'invalid-credentials') return t('err_credentials');
    if (err.type === 'login-taken') return t('err_login_taken');
    if (err.status === 429) return t('err_rate');
    if (err.status === 401) return t('err_session');
    if (err.status === 404 || err.status === 403) return t('err_not_found');
    if (err.type === 'protocol-rejected') return t('err_protocol', { code: err.extra.protocol_error ?? '' });
    // An entry's time comes from this device: a clock days off is refused (protocol §4.3).
    if (err.type === 'validation-failed' && (err.extra.errors ?? []).some((e) => e?.field === 'created_at')) return t('err_clock');
    if (err.status === 400 || err.status === 422) return `${t('err_generic')} (${err.title})`;
  }
  console.error(err);
  return t('err_generic');
}
