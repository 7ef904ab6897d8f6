/** Finnish, Swedish and English. The choice is remembered on this device. */

export const LANGUAGES = /** @type {const} */ ([['fi', 'Suomi'], ['sv', 'Svenska'], ['en', 'English']]);
/** Loaded on demand: only the language in use is fetched. @type {Record<string, Record<string, string>>} */
const TABLES = {};
const CODES = ['fi', 'sv', 'en'];
const KEY = 'secure-msg:lang';

let current = pick(safeGet(KEY) ?? navigator.language?.slice(0, 2));

/** @param {string | null | undefined} lang */
function pick(lang) {
  return lang && CODES.includes(lang) ? lang : 'fi';
}

function safeGet(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}

export const lang = () => current;
export const hasChosenLanguage = () => safeGet(KEY) !== null;

/** @param {string} value @param {{remember?: boolean}} [opts] */
export async function setLang(value, { remember = true } = {}) {
  const code = pick(value);
  TABLES[code] ??= (await import(`./lang-${code}.mjs`))[code];
  current = code;
  document.documentElement.lang = current;
  if (remember) {
    try { localStorage.setItem(KEY, current); } catch { /* private mode: this page only */ }
  }
}

/**
 * The text for `key` in the current language, `{name}` slots filled from `vars`.
 * @param {string} key @param {Record<string, string | number>} [vars]
 */
export function t(key, vars = {}) {
  const text = TABLES[current]?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** A date and time in the current language. @param {string | number | Date} when */
export function formatTime(when) {
  const d = new Date(when);
  const locale = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' }[current];
  return d.toLocaleString(locale, { day: 'numeric', month: 'numeric', hour: '2-digit', minute: '2-digit' });
}
