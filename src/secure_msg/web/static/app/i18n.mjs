/** Finnish, Swedish and English. The choice is remembered on this device. */

export const LANGUAGES = /** @type {const} */ ([['fi', 'Suomi'], ['sv', 'Svenska'], ['en', 'English']]);
/**
 * Loaded on demand: only the language in use is fetched, and of it first only what the login
 * screen says (lang-xx-start.mjs); the rest (lang-xx.mjs) with the first screen after it
 * (`allTexts`), so the first load stays small (docs/performance.md).
 * @type {Record<string, Record<string, string>>}
 */
const TABLES = {};
/** @type {Record<string, Set<string>>} code → the parts of its table loaded */
const LOADED = {};
/** The parts every language switch loads: 'rest' joins once a screen after login needed it. */
const PARTS = ['start'];
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
  await load(code);
  current = code;
  document.documentElement.lang = current;
  if (remember) {
    try { localStorage.setItem(KEY, current); } catch { /* private mode: this page only */ }
  }
}

/** @param {string} code */
async function load(code) {
  const have = (LOADED[code] ??= new Set());
  for (const part of PARTS) {
    if (have.has(part)) continue;
    const module = await (part === 'start' ? import(`./lang-${code}-start.mjs`) : import(`./lang-${code}.mjs`));
    TABLES[code] = { ...TABLES[code], ...module[code] };
    have.add(part);
  }
}

/** Every text of the current language (and of any chosen later): before any screen but login. */
export async function allTexts() {
  if (!PARTS.includes('rest')) PARTS.push('rest');
  await load(current);
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
